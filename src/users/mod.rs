//! Local user accounts: creation (with role assignment), lookup, password changes, and the
//! bootstrap administrator. Password hashing and the policy live in [`password`]; checking a
//! login in [`login`].

pub mod cli;
pub mod login;
pub mod password;

pub use login::{LoginError, verify_credentials, verify_login};
pub use password::{Passwords, check_policy as check_password_policy};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, SqlErr, TransactionTrait};
use crate::read_cache::ReadCache;
use std::sync::Arc;
use tessera_entity::{roles, user_roles, users};

/// A user as the rest of the server sees it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub email_verified: bool,
    pub is_active: bool,
    pub must_change_password: bool,
}

impl From<users::Model> for User {
    fn from(m: users::Model) -> Self {
        User::from(&m)
    }
}

/// Also from a shared (cached) row, without copying the password hash.
impl From<&users::Model> for User {
    fn from(m: &users::Model) -> Self {
        User {
            id: m.id.clone(),
            username: m.username.clone(),
            email: m.email.clone(),
            display_name: m.display_name.clone(),
            email_verified: m.email_verified,
            is_active: m.is_active,
            must_change_password: m.must_change_password,
        }
    }
}

/// What creating a user needs. `roles` are existing role names (e.g. `super_admin`).
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub password: String,
    pub display_name: Option<String>,
    pub roles: Vec<String>,
    /// Ask for a new password at the first login.
    pub must_change_password: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("{0}")]
    Policy(String),
    #[error("a user with this username or email already exists")]
    Duplicate,
    #[error("no role named {0:?}")]
    UnknownRole(String),
    #[error(transparent)]
    Hash(#[from] password::HashError),
    #[error(transparent)]
    Db(DbErr),
}

impl From<DbErr> for CreateUserError {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => CreateUserError::Duplicate,
            _ => CreateUserError::Db(e),
        }
    }
}

/// A character a username may contain: ASCII letters and digits, `.`, `_`, `-`, `@`.
pub fn username_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')
}

fn valid_username(u: &str) -> bool {
    (3..=64).contains(&u.chars().count()) && u.chars().all(username_char)
}

fn valid_email(e: &str) -> bool {
    e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.contains('@'))
}

/// Creates a user: validates, checks the password policy, hashes on the pool, assigns roles.
pub async fn create_user(db: &DatabaseConnection, new: NewUser) -> Result<User, CreateUserError> {
    create_user_at(db, Passwords::global(), Utc::now(), new).await
}

/// [`create_user`] with an explicit pool and time.
pub async fn create_user_at(db: &DatabaseConnection, pool: &Passwords, now: DateTime<Utc>, new: NewUser) -> Result<User, CreateUserError> {
    if !valid_username(&new.username) {
        return Err(CreateUserError::Invalid { field: "username", message: "3-64 characters: letters, digits, . _ - @".into() });
    }
    if let Some(e) = new.email.as_ref().filter(|e| !valid_email(e)) {
        return Err(CreateUserError::Invalid { field: "email", message: format!("{e:?} is not an email address") });
    }
    if new.display_name.as_ref().is_some_and(|d| d.chars().count() > 200) {
        return Err(CreateUserError::Invalid { field: "display_name", message: "at most 200 characters".into() });
    }
    password::check_policy(&new.password).map_err(CreateUserError::Policy)?;
    let mut role_ids = Vec::new();
    for name in &new.roles {
        let role = roles::Entity::find().filter(roles::Column::Name.eq(name.as_str())).one(db).await?;
        role_ids.push(role.ok_or_else(|| CreateUserError::UnknownRole(name.clone()))?.id);
    }
    let password_hash = pool.hash(new.password).await?;
    let row = UserRow {
        username: new.username,
        email: new.email,
        display_name: new.display_name,
        password_hash,
        is_active: true,
        must_change_password: new.must_change_password,
        email_verified: false,
    };
    let txn = db.begin().await?;
    let saved = insert_user(&txn, row, &role_ids, None, now).await?;
    txn.commit().await?;
    Ok(User::from(saved))
}

/// A new user row as stored: the password is already hashed (by [`Passwords`], after
/// [`password::check_policy`]).
#[derive(Debug, Clone)]
pub struct UserRow {
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub password_hash: String,
    pub is_active: bool,
    pub must_change_password: bool,
    pub email_verified: bool,
}

/// Inserts a user and its (unexpiring) role assignments on `db` — a connection or the caller's
/// transaction. The one place user rows are created (CLI, bootstrap, admin API).
pub async fn insert_user<C: ConnectionTrait>(db: &C, row: UserRow, role_ids: &[String], assigned_by: Option<&str>, now: DateTime<Utc>) -> Result<users::Model, DbErr> {
    let id = uuid::Uuid::new_v4().to_string();
    let saved = users::Entity::insert(users::ActiveModel {
        id: Set(id.clone()),
        username: Set(row.username),
        email: Set(row.email),
        display_name: Set(row.display_name),
        password_hash: Set(row.password_hash),
        is_active: Set(row.is_active),
        must_change_password: Set(row.must_change_password),
        email_verified: Set(row.email_verified),
        failed_login_count: Set(0),
        locked_until: Set(None),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(db)
    .await?;
    for role_id in role_ids {
        user_roles::Entity::insert(user_roles::ActiveModel {
            user_id: Set(id.clone()),
            role_id: Set(role_id.clone()),
            expires_at: Set(None),
            assigned_by: Set(assigned_by.map(str::to_string)),
            created_at: Set(now),
        })
        .exec_without_returning(db)
        .await?;
    }
    Ok(saved)
}

/// Usernames of these users (id → username), in one query; unknown ids are absent.
pub async fn usernames<C: ConnectionTrait>(db: &C, ids: Vec<String>) -> Result<std::collections::HashMap<String, String>, DbErr> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    use sea_orm::QuerySelect;
    Ok(users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .column(users::Column::Username)
        .filter(users::Column::Id.is_in(ids))
        .into_tuple::<(String, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// How long a user row read for a request may be reused by later requests of this process.
pub const USER_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// User rows for the request path: the session's user at the authorization endpoint, the user a
/// grant acts for, the UserInfo user. Every user write made in this process bumps
/// `users::generation()`, which empties it, so a deactivation or a password change made here is
/// seen at once; one made elsewhere (the CLI, another node) within [`USER_CACHE_TTL`], as an
/// ended session is (the sessions cache, `tessera_actors::sessions`).
pub struct UserCache(ReadCache<users::Model>);

impl Default for UserCache {
    fn default() -> Self {
        UserCache(ReadCache::new(USER_CACHE_TTL, users::generation))
    }
}

impl UserCache {
    /// The user `id`, from the cache when fresh, else from the database.
    pub async fn find(&self, db: &DatabaseConnection, id: &str) -> Result<Option<Arc<users::Model>>, DbErr> {
        self.0.get(id, users::Entity::find_by_id(id).one(db)).await
    }
}

pub async fn find_by_username(db: &DatabaseConnection, username: &str) -> Result<Option<User>, DbErr> {
    Ok(users::Entity::find().filter(users::Column::Username.eq(username)).one(db).await?.map(User::from))
}

/// Names of the roles a user holds now (unexpired assignments of active roles).
pub async fn role_names(db: &DatabaseConnection, user_id: &str, now: DateTime<Utc>) -> Result<Vec<String>, DbErr> {
    let assigned = user_roles::Entity::find().filter(user_roles::Column::UserId.eq(user_id)).all(db).await?;
    let ids: Vec<String> = assigned.into_iter().filter(|a| a.expires_at.is_none_or(|e| e > now)).map(|a| a.role_id).collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let found = roles::Entity::find().filter(roles::Column::Id.is_in(ids)).filter(roles::Column::IsActive.eq(true)).all(db).await?;
    Ok(found.into_iter().map(|r| r.name).collect())
}

/// Activates or deactivates a user. A deactivated user cannot log in, and its sessions stop
/// authorizing at once (the authorization endpoint checks the user on every request).
pub async fn set_active(db: &DatabaseConnection, user_id: &str, active: bool, now: DateTime<Utc>) -> Result<(), DbErr> {
    users::Entity::update_many()
        .col_expr(users::Column::IsActive, Expr::value(active))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    users::bump_generation();
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error("{0}")]
    Policy(String),
    #[error("the new password must differ from the current one")]
    Unchanged,
    #[error(transparent)]
    Hash(#[from] password::HashError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Sets a new password (policy checked) and clears `must_change_password`.
pub async fn set_password(db: &DatabaseConnection, user_id: &str, new_password: String, now: DateTime<Utc>) -> Result<(), ChangePasswordError> {
    password::check_policy(&new_password).map_err(ChangePasswordError::Policy)?;
    let hash = Passwords::global().hash(new_password).await?;
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash))
        .col_expr(users::Column::MustChangePassword, Expr::value(false))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    users::bump_generation();
    Ok(())
}

/// On first start with no users: creates the administrator `username` with the `super_admin` role,
/// a random strong password and `must_change_password`, and returns that password (the caller
/// prints it once, to stdout, never to the log). `None` when users already exist.
pub async fn bootstrap_admin(db: &DatabaseConnection, username: &str) -> Result<Option<String>, CreateUserError> {
    if users::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    let password = password::generate();
    let new = NewUser {
        username: username.to_string(),
        password: password.clone(),
        display_name: Some("Administrator".into()),
        roles: vec!["super_admin".into()],
        must_change_password: true,
        ..NewUser::default()
    };
    match create_user(db, new).await {
        Ok(_) => Ok(Some(password)),
        // Another node of the cluster created it first.
        Err(CreateUserError::Duplicate) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_emails() {
        assert!(valid_username("alice") && valid_username("a.b-c_d@x"));
        assert!(!valid_username("al") && !valid_username("has space") && !valid_username("<script>"));
        assert!(valid_email("a@example.com"));
        assert!(!valid_email("a@b") && !valid_email("@example.com") && !valid_email("a b@example.com"));
    }
}
