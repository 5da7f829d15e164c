//! The `storefront-2fa` command: serve the store (default), run migrations,
//! manage users, run the Authy sandbox on its own.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use storefront_2fa::config::Settings;
use storefront_2fa::db::Db;
use storefront_2fa::host::accounts;
use storefront_2fa::host::email::Email;
use storefront_2fa::host::password::{hash_blocking, NewPassword};
use storefront_2fa::plugin::Role;
use storefront_2fa::startup::Application;

#[derive(Parser)]
#[command(
    name = "storefront-2fa",
    version,
    about = "A storefront with two-factor authentication"
)]
struct Cli {
    /// Settings file (default: ./storefront.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the store (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Run the test sandbox on its own (for other apps and tests), or list
    /// what it would have sent (`sandbox outbox`).
    #[command(args_conflicts_with_subcommands = true)]
    Sandbox {
        #[command(subcommand)]
        action: Option<SandboxCommand>,
        #[arg(long, default_value = "127.0.0.1:9090")]
        bind: String,
        /// The API key clients must send (or STOREFRONT__SANDBOX__API_KEY).
        #[arg(long)]
        api_key: Option<String>,
    },
    /// Two-factor authentication of an account (for a locked-out admin).
    #[command(subcommand)]
    Tfa(TwoFactorCommand),
}

#[derive(Subcommand)]
enum SandboxCommand {
    /// The latest test messages (codes) in the sandbox outbox, newest
    /// first: how a store owner in test mode reads a code from the shell.
    Outbox {
        /// Only messages to this phone number (its digits, national or
        /// with the country code).
        #[arg(long)]
        phone: Option<String>,
        #[arg(long, default_value_t = 10)]
        limit: i64,
    },
}

#[derive(Subcommand)]
enum TwoFactorCommand {
    /// Remove every second factor of an account (app, phone, recovery codes).
    Reset {
        #[arg(long)]
        email: String,
    },
    /// Show an account's second factors.
    Status {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account. The password is read from standard input (one
    /// line) or asked for at the terminal.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["admin", "vendor", "customer"])]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List accounts.
    List,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    storefront_2fa::telemetry::init();
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref()).context("reading settings")?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let db = connect(&settings)?;
            let n = storefront_2fa::startup::run_migrations(&mut *db.get()?)?;
            println!("Applied {n} migration(s).");
            Ok(())
        }
        Command::User(UserCommand::Create { email, role, name }) => {
            create_user(&settings, &email, &role, &name)
        }
        Command::User(UserCommand::List) => list_users(&settings),
        Command::Sandbox {
            action: Some(SandboxCommand::Outbox { phone, limit }),
            ..
        } => print_outbox(&settings, phone.as_deref(), limit),
        Command::Sandbox {
            action: None,
            bind,
            api_key,
        } => {
            let key = api_key.unwrap_or_else(|| settings.sandbox.api_key.clone());
            let db = Db::connect(&settings.database_url(), settings.database.pool_size)?;
            println!("Test sandbox on http://{bind}/: the Authy-compatible API at the root (outbox: GET /outbox with X-Authy-API-Key), Twilio Verify v2 under /twilio (HTTP Basic: an AC… SID and the API key)");
            storefront_2fa::authy_sandbox::run_standalone(&bind, db, key, settings.sandbox.clone())
                .await
        }
        Command::Tfa(cmd) => tfa(&settings, cmd),
    }
}

fn tfa(settings: &Settings, cmd: TwoFactorCommand) -> anyhow::Result<()> {
    use storefront_2fa::two_factor::admin::tools;
    let email = match &cmd {
        TwoFactorCommand::Reset { email } | TwoFactorCommand::Status { email } => email,
    };
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!(e))?;
    let db = connect(settings)?;
    let mut conn = db.get()?;
    let account = accounts::by_email(&mut conn, email.as_str())?
        .with_context(|| format!("no account with the email {email}"))?;
    match cmd {
        TwoFactorCommand::Reset { .. } => {
            // The account's sign-ins under way and its sessions end too.
            let void = |c: &mut storefront_2fa::db::DbConn, id: i64| {
                accounts::void_pending_sign_ins(c, id)?;
                storefront_2fa::host::session::end_other_sessions(c, id, "").map(|_| ())
            };
            let removed = tools::reset(
                &mut conn,
                &void,
                account.id,
                &account.email,
                "the command line",
                "",
            )?;
            if removed {
                println!(
                    "Two-factor authentication reset for {email}: app, phone and recovery codes removed."
                );
            } else {
                println!("{email} had no second factor; nothing to reset.");
            }
        }
        TwoFactorCommand::Status { .. } => {
            let f = tools::status(&mut conn, account.id)?;
            print!("{}", tools::describe(account.email.as_str(), &f));
        }
    }
    Ok(())
}

fn connect(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database_url(), 2)?;
    storefront_2fa::startup::run_migrations(&mut *db.get()?)?;
    Ok(db)
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    let url = app.public_url().to_string();
    let admins = accounts::count_admins(&mut *app.db().get()?)?;
    println!("Storefront is running at {url}/ (admin: {url}/admin)");
    if admins == 0 {
        // Said as the newcomer will type it: through cargo, or the installed binary.
        let command = if std::env::var_os("CARGO").is_some() {
            "cargo run --"
        } else {
            "storefront-2fa"
        };
        println!(
            "No admin account yet. Create one in another terminal with:\n  \
             {command} user create --email you@example.com --role admin"
        );
    }
    app.run_until_stopped().await?;
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password again: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

fn create_user(settings: &Settings, email: &str, role: &str, name: &str) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!(e))?;
    let role = Role::parse(role).context("role must be admin, vendor or customer")?;
    let password =
        NewPassword::parse(&read_password()?, email.as_str()).map_err(|e| anyhow::anyhow!(e))?;
    let db = connect(settings)?;
    let hash = hash_blocking(password.expose());
    let id = accounts::insert(&mut *db.get()?, &email, &hash, role, name)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("Created {} account #{id} for {email}.", role.as_str());
    Ok(())
}

fn list_users(settings: &Settings) -> anyhow::Result<()> {
    let db = connect(settings)?;
    let (rows, total) = accounts::search(&mut *db.get()?, "", 1, 10_000)?;
    println!("{:>6}  {:<8}  {:<40}  name", "id", "role", "email");
    for r in rows {
        println!("{:>6}  {:<8}  {:<40}  {}", r.id, r.role, r.email, r.name);
    }
    println!("{total} account(s)");
    Ok(())
}

/// `storefront-2fa sandbox outbox`: the newest test messages, one a line.
fn print_outbox(settings: &Settings, phone: Option<&str>, limit: i64) -> anyhow::Result<()> {
    let db = connect(settings)?;
    let messages = storefront_2fa::authy_sandbox::outbox::list(&mut *db.get()?, phone, limit)?;
    if messages.is_empty() {
        println!(
            "The sandbox outbox is empty{}.",
            match phone {
                Some(p) => format!(" for {p}"),
                None => String::new(),
            }
        );
        return Ok(());
    }
    for m in messages {
        println!(
            "{}  {:<4}  +{} {}  {}",
            m.sent_at_iso, m.channel, m.country_code, m.phone, m.text
        );
    }
    Ok(())
}
