//! The two-factor addon's tables (its migrations are in
//! `src/two_factor/migrations/`, run by the host after its own).

diesel::table! {
    tfa_phones (account_id) {
        account_id -> BigInt,
        country -> Text,
        calling_code -> Integer,
        national_number -> Text,
        e164 -> Text,
        authy_id -> Nullable<BigInt>,
        updated_at -> BigInt,
        refused_at -> Nullable<BigInt>,
        confirmed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    tfa_phone_changes (account_id) {
        account_id -> BigInt,
        country -> Text,
        calling_code -> Integer,
        national_number -> Text,
        e164 -> Text,
        authy_id -> Nullable<BigInt>,
        created_at -> BigInt,
        expires_at -> BigInt,
        sent_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    tfa_challenges (pending_id) {
        pending_id -> Text,
        account_id -> BigInt,
        sent_at -> Nullable<BigInt>,
        completed -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    tfa_counters (key) {
        key -> Text,
        window_start -> BigInt,
        count -> Integer,
    }
}

diesel::table! {
    tfa_code_holders (account_id) {
        account_id -> BigInt,
        purpose -> Text,
        updated_at -> BigInt,
        verification_sid -> Nullable<Text>,
    }
}

diesel::table! {
    tfa_connection_tests (id) {
        id -> Integer,
        ok -> Bool,
        text -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    tfa_page_notes (account_id, page) {
        account_id -> BigInt,
        page -> Text,
        target -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    tfa_notices (account_id) {
        account_id -> BigInt,
        text -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    tfa_gateway_errors (id) {
        id -> Integer,
        text -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    tfa_audit (id) {
        id -> BigInt,
        created_at -> BigInt,
        account_id -> Nullable<BigInt>,
        account_email -> Text,
        interface -> Text,
        ip -> Text,
        event -> Text,
        outcome -> Text,
        detail -> Text,
    }
}

diesel::table! {
    tfa_totp (account_id) {
        account_id -> BigInt,
        secret -> Text,
        confirmed -> Bool,
        last_step -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    tfa_recovery_codes (id) {
        id -> BigInt,
        account_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<BigInt>,
        created_at -> BigInt,
        code_sealed -> Nullable<Text>,
    }
}

diesel::table! {
    tfa_api_challenges (id_hash) {
        id_hash -> Text,
        account_id -> BigInt,
        attempts -> Integer,
        completed -> Bool,
        sms_sent_at -> Nullable<BigInt>,
        created_at -> BigInt,
        expires_at -> BigInt,
        credential_generation -> BigInt,
    }
}

diesel::table! {
    tfa_confirmed_access (session_key) {
        session_key -> Text,
        account_id -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    tfa_api_tokens (id) {
        id -> BigInt,
        account_id -> BigInt,
        token_hash -> Text,
        kind -> Text,
        name -> Text,
        scope -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    tfa_flashes (session_key) {
        session_key -> Text,
        kind -> Text,
        text -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    tfa_trusted_devices (id) {
        id -> BigInt,
        account_id -> BigInt,
        token_hash -> Text,
        device_name -> Text,
        ip -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        expires_at -> BigInt,
        credential_generation -> BigInt,
    }
}

diesel::table! {
    tfa_passkeys (id) {
        id -> BigInt,
        account_id -> BigInt,
        credential_id -> Text,
        name -> Text,
        passkey -> Text,
        sign_count -> BigInt,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    tfa_passkey_sign_in_ceremonies (session_key) {
        session_key -> Text,
        state -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    tfa_setup_grace (account_id) {
        account_id -> BigInt,
        started_at -> BigInt,
    }
}

diesel::table! {
    tfa_webauthn_ceremonies (binding) {
        binding -> Text,
        account_id -> BigInt,
        state -> Text,
        expires_at -> BigInt,
    }
}

// A phone read with whether its account has recovery codes, who holds its
// last code, whether the page has a flash and its resend cooldown
// (`store::phone_and_codes`).
diesel::allow_tables_to_appear_in_same_query!(
    tfa_phones,
    tfa_recovery_codes,
    tfa_passkeys,
    tfa_code_holders,
    tfa_flashes,
    tfa_counters
);
