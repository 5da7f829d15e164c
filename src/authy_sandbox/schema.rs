//! The sandbox's tables (its migrations are in
//! `src/authy_sandbox/migrations/`).

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

diesel::table! {
    sandbox_verify_verifications (id) {
        id -> BigInt,
        sid -> Text,
        service_sid -> Text,
        account_sid -> Text,
        to_number -> Text,
        channel -> Text,
        code_hash -> Text,
        message_id -> BigInt,
        status -> Text,
        checks -> Integer,
        created_at -> BigInt,
        updated_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    sandbox_verify_sends (id) {
        id -> BigInt,
        attempt_sid -> Text,
        verification_id -> BigInt,
        service_sid -> Text,
        to_number -> Text,
        channel -> Text,
        sent_at -> BigInt,
    }
}

diesel::table! {
    sandbox_verify_numbers (service_sid, to_number) {
        service_sid -> Text,
        to_number -> Text,
        locked_at -> BigInt,
    }
}

diesel::joinable!(sandbox_approvals -> sandbox_users (user_id));
diesel::allow_tables_to_appear_in_same_query!(sandbox_approvals, sandbox_users);
diesel::joinable!(sandbox_verify_sends -> sandbox_verify_verifications (verification_id));
diesel::allow_tables_to_appear_in_same_query!(sandbox_verify_sends, sandbox_verify_verifications);
