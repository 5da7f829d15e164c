//! The host's tables, one diesel schema for both backends. The two-factor
//! addon and the sandbox keep theirs next to their code
//! (`two_factor::schema`, `authy_sandbox::schema`).

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
diesel::allow_tables_to_appear_in_same_query!(sessions, accounts, pending_logins, login_failures);
