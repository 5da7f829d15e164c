//! Accounts in the database: admin, vendor and customer, email as login.

use diesel::prelude::*;

use super::email::Email;
use crate::db::schema::accounts;
use crate::db::{now, DbConn, DbError};
use crate::plugin::{Account, Role};

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct AccountRow {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub name: String,
    pub must_change_password: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub credential_generation: i64,
}

/// Debug leaves the password hash out.
impl std::fmt::Debug for AccountRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRow")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl AccountRow {
    pub fn role(&self) -> Role {
        // The column has a CHECK constraint, so anything else is corruption;
        // the least privileged role is the safe reading.
        Role::parse(&self.role).unwrap_or(Role::Customer)
    }

    pub fn to_account(&self) -> Account {
        Account {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            role: self.role(),
            credential_generation: self.credential_generation,
        }
    }
}

/// A display name: at most 100 characters, no control characters, trimmed.
pub fn parse_name(input: &str) -> Result<String, &'static str> {
    let name = input.trim();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err("Use at most 100 characters, without control characters.");
    }
    Ok(name.to_string())
}

#[derive(Debug, thiserror::Error)]
pub enum CreateAccountError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Inserts an account; runs inside the caller's transaction.
pub fn insert(
    conn: &mut DbConn,
    email: &Email,
    password_hash: &str,
    role: Role,
    name: &str,
) -> Result<i64, CreateAccountError> {
    let t = now();
    let inserted = diesel::insert_into(accounts::table)
        .values((
            accounts::email.eq(email.as_str()),
            accounts::password_hash.eq(password_hash),
            accounts::role.eq(role.as_str()),
            accounts::name.eq(name),
            accounts::must_change_password.eq(false),
            accounts::created_at.eq(t),
            accounts::updated_at.eq(t),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => {}
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => return Err(CreateAccountError::EmailTaken),
        Err(e) => return Err(DbError::from(e).into()),
    }
    Ok(accounts::table
        .filter(accounts::email.eq(email.as_str()))
        .select(accounts::id)
        .first(conn)
        .map_err(DbError::from)?)
}

pub fn by_email(conn: &mut DbConn, email: &str) -> Result<Option<AccountRow>, DbError> {
    Ok(crate::on_backend!(conn, |c| accounts::table
        .filter(accounts::email.eq(email))
        .select(AccountRow::as_select())
        .first(c)
        .optional())?)
}

pub fn by_id(conn: &mut DbConn, id: i64) -> Result<Option<AccountRow>, DbError> {
    Ok(crate::on_backend!(conn, |c| accounts::table
        .find(id)
        .select(AccountRow::as_select())
        .first(c)
        .optional())?)
}

pub fn email_taken(
    conn: &mut DbConn,
    email: &str,
    except_id: Option<i64>,
) -> Result<bool, DbError> {
    let mut q = accounts::table
        .filter(accounts::email.eq(email))
        .into_boxed();
    if let Some(id) = except_id {
        q = q.filter(accounts::id.ne(id));
    }
    Ok(q.select(accounts::id)
        .first::<i64>(conn)
        .optional()?
        .is_some())
}

/// Sets a new password. Every sign-in of the account that is under way
/// (started with the old password) is voided with it.
pub fn set_password(conn: &mut DbConn, id: i64, hash: &str) -> Result<(), DbError> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::password_hash.eq(hash),
            accounts::must_change_password.eq(false),
            accounts::updated_at.eq(now()),
        ))
        .execute(conn)?;
    void_pending_sign_ins(conn, id)?;
    Ok(())
}

/// Moves the account's credential generation on and deletes its pending
/// logins, whatever their stage: after a password change, a two-factor
/// reset or disable, or "sign out everywhere", no sign-in that started
/// before can go on. A pending login inserted concurrently (its password
/// step read the old generation) is refused at its next step, since every
/// step compares generations. Returns the new generation.
pub fn void_pending_sign_ins(conn: &mut DbConn, id: i64) -> Result<i64, DbError> {
    use crate::db::schema::pending_logins;
    let generation = diesel::update(accounts::table.find(id))
        .set(accounts::credential_generation.eq(accounts::credential_generation + 1))
        .returning(accounts::credential_generation)
        .get_result::<i64>(conn)
        .optional()?
        .unwrap_or_default();
    diesel::delete(pending_logins::table.filter(pending_logins::account_id.eq(id)))
        .execute(conn)?;
    Ok(generation)
}

pub fn update_profile(
    conn: &mut DbConn,
    id: i64,
    email: &Email,
    name: &str,
) -> Result<(), DbError> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::email.eq(email.as_str()),
            accounts::name.eq(name),
            accounts::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn admin_update(
    conn: &mut DbConn,
    id: i64,
    email: &Email,
    name: &str,
    role: Role,
    must_change_password: bool,
) -> Result<(), DbError> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::email.eq(email.as_str()),
            accounts::name.eq(name),
            accounts::role.eq(role.as_str()),
            accounts::must_change_password.eq(must_change_password),
            accounts::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn count_admins(conn: &mut DbConn) -> Result<i64, DbError> {
    Ok(accounts::table
        .filter(accounts::role.eq(Role::Admin.as_str()))
        .count()
        .get_result(conn)?)
}

/// Every account with one of `roles`, oldest first.
pub fn with_roles(conn: &mut DbConn, roles: &[Role]) -> Result<Vec<AccountRow>, DbError> {
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    Ok(accounts::table
        .filter(accounts::role.eq_any(names))
        .order(accounts::id.asc())
        .select(AccountRow::as_select())
        .load(conn)?)
}

/// One page of accounts whose email or name contains `query`, newest first.
pub fn search(
    conn: &mut DbConn,
    query: &str,
    page: i64,
    per_page: i64,
) -> Result<(Vec<AccountRow>, i64), DbError> {
    search_among(conn, query, None, page, per_page)
}

/// As `search`, kept to the accounts `only` lists when given (a filter an
/// addon offers on the Users list).
pub fn search_among(
    conn: &mut DbConn,
    query: &str,
    only: Option<&[i64]>,
    page: i64,
    per_page: i64,
) -> Result<(Vec<AccountRow>, i64), DbError> {
    let pattern = format!("%{}%", escape_like(&query.to_lowercase()));
    let filtered = || {
        let mut q = accounts::table
            .filter(
                accounts::email
                    .like(pattern.clone())
                    .escape('\\')
                    .or(accounts::name.like(pattern.clone()).escape('\\')),
            )
            .into_boxed();
        if let Some(ids) = only {
            q = q.filter(accounts::id.eq_any(ids.to_vec()));
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let rows = filtered()
        .order(accounts::id.desc())
        .limit(per_page)
        .offset((page.max(1) - 1) * per_page)
        .select(AccountRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// What `normalise_stored_emails` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EmailNormalisation {
    /// Rows rewritten to their canonical form.
    pub rewritten: usize,
    /// Rows left as they were, by id: their canonical form is another
    /// account's address, or the stored address is refused now (an
    /// invisible character, mixed scripts). The owner sees them in the log
    /// and corrects them on the admin user page.
    pub left: Vec<i64>,
}

/// Brings addresses stored before `Email` normalised them (NFKC, refusal
/// of invisible characters) to the canonical form, so a login, which
/// looks the canonical form up, still finds them. Runs at every start-up
/// after the migrations: SQL cannot do NFKC, and a start-up pass also
/// covers rows an older binary writes during a rolling upgrade. Only
/// non-ASCII addresses can differ (every earlier version lower-cased and
/// trimmed), so the pass reads the table once and writes only those.
/// Two rows that become one address are not merged: merging accounts is a
/// person's decision, so both stay and are reported.
pub fn normalise_stored_emails(conn: &mut DbConn) -> Result<EmailNormalisation, DbError> {
    let rows: Vec<(i64, String)> = crate::on_backend!(conn, |c| accounts::table
        .select((accounts::id, accounts::email))
        .load(c))?;
    let mut report = EmailNormalisation::default();
    for (id, stored) in rows.into_iter().filter(|(_, e)| !e.is_ascii()) {
        let Ok(canonical) = Email::parse(&stored) else {
            tracing::warn!(account = id, "stored email address is refused by the current rules (invisible characters or mixed scripts); change it on the admin user page");
            report.left.push(id);
            continue;
        };
        if canonical.as_str() == stored {
            continue;
        }
        let updated = diesel::update(accounts::table.find(id))
            .set(accounts::email.eq(canonical.as_str()))
            .execute(conn);
        match updated {
            Ok(_) => report.rewritten += 1,
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {
                tracing::warn!(account = id, "stored email address is, once normalised, another account's; both kept, merge or rename one on the admin user page");
                report.left.push(id);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(report)
}
