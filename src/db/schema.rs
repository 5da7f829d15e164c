//! The one diesel schema shared by both backends. Sections by owner: the
//! host, the two-factor addon, the Authy sandbox.

// ---- host ------------------------------------------------------------------

diesel::table! {
    accounts (id) {
        id -> BigInt,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        name -> Text,
        must_change_password -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        credential_generation -> BigInt,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        account_id -> Nullable<BigInt>,
        pending_login_id -> Nullable<Text>,
        created_at -> BigInt,
        last_seen_at -> BigInt,
    }
}

diesel::table! {
    pending_logins (id) {
        id -> Text,
        account_id -> BigInt,
        interface -> Text,
        target -> Text,
        stage -> Text,
        addon_id -> Nullable<Text>,
        challenge_url -> Text,
        ip -> Text,
        attempts -> Integer,
        created_at -> BigInt,
        expires_at -> BigInt,
        credential_generation -> BigInt,
    }
}

diesel::table! {
    products (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        description -> Text,
        price_cents -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    cart_items (id) {
        id -> BigInt,
        owner -> Text,
        product_id -> BigInt,
        quantity -> Integer,
    }
}

diesel::table! {
    orders (id) {
        id -> BigInt,
        account_id -> BigInt,
        total_cents -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    order_items (id) {
        id -> BigInt,
        order_id -> BigInt,
        product_id -> BigInt,
        name -> Text,
        price_cents -> BigInt,
        quantity -> Integer,
    }
}

diesel::table! {
    addons (id) {
        id -> Text,
        enabled -> Bool,
        updated_at -> BigInt,
    }
}

diesel::table! {
    addon_settings (addon_id, key) {
        addon_id -> Text,
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    login_failures (account_id) {
        account_id -> BigInt,
        failures -> Integer,
        window_start -> BigInt,
        locked_until -> BigInt,
    }
}

diesel::joinable!(cart_items -> products (product_id));
diesel::allow_tables_to_appear_in_same_query!(cart_items, products);

// ---- two-factor addon ------------------------------------------------------

diesel::table! {
    tfa_phones (account_id) {
        account_id -> BigInt,
        country -> Text,
        calling_code -> Integer,
        national_number -> Text,
        e164 -> Text,
        authy_id -> Nullable<BigInt>,
        updated_at -> BigInt,
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
    tfa_state (key) {
        key -> Text,
        value -> Text,
        updated_at -> BigInt,
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

// ---- Authy sandbox ---------------------------------------------------------

diesel::table! {
    sandbox_users (id) {
        id -> BigInt,
        country_code -> Integer,
        cellphone -> Text,
        email -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        removed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sandbox_tokens (user_id) {
        user_id -> BigInt,
        code_hash -> Text,
        channel -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sandbox_outbox (id) {
        id -> BigInt,
        sent_at -> BigInt,
        channel -> Text,
        country_code -> Integer,
        phone -> Text,
        full_phone -> Text,
        text -> Text,
    }
}

diesel::table! {
    sandbox_approvals (id) {
        id -> BigInt,
        uuid -> Text,
        user_id -> BigInt,
        message -> Text,
        details -> Text,
        hidden_details -> Text,
        logos -> Text,
        seconds_to_expire -> BigInt,
        status -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        processed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sandbox_verifications (id) {
        id -> BigInt,
        uuid -> Text,
        country_code -> Integer,
        phone -> Text,
        via -> Text,
        code_hash -> Text,
        code_length -> Integer,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    sandbox_rate_limits (key, window_start) {
        key -> Text,
        window_start -> BigInt,
        hits -> BigInt,
    }
}

diesel::table! {
    sandbox_stats (year, month) {
        year -> Integer,
        month -> Integer,
        api_calls -> BigInt,
        auths -> BigInt,
        sms -> BigInt,
        calls -> BigInt,
        users -> BigInt,
    }
}

diesel::joinable!(sandbox_approvals -> sandbox_users (user_id));
diesel::allow_tables_to_appear_in_same_query!(sandbox_approvals, sandbox_users);
