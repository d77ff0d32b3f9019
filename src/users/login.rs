//! Checking a username and password.
//!
//! Exactly one Argon2id verification runs for every attempt — against the user's hash, or against
//! a fixed dummy hash when no such user exists — so the response time does not reveal which
//! usernames exist. An inactive user cannot log in even with the right password.

use super::password::{DUMMY_HASH, MAX_LEN, Passwords};
use super::User;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tessera_entity::users;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown username or wrong password (`user_id` is known in the second case, for the audit log).
    #[error("invalid username or password")]
    InvalidCredentials { user_id: Option<String> },
    /// Right password, but the account is deactivated.
    #[error("account inactive")]
    Inactive { user_id: String },
    /// The database or the hashing pool failed.
    #[error("login unavailable: {0}")]
    Unavailable(String),
}

impl LoginError {
    pub fn user_id(&self) -> Option<&str> {
        match self {
            LoginError::InvalidCredentials { user_id } => user_id.as_deref(),
            LoginError::Inactive { user_id } => Some(user_id),
            LoginError::Unavailable(_) => None,
        }
    }

    /// A short machine reason for audit details (never shown to the user).
    pub fn reason(&self) -> &'static str {
        match self {
            LoginError::InvalidCredentials { user_id: None } => "unknown_user",
            LoginError::InvalidCredentials { user_id: Some(_) } => "wrong_password",
            LoginError::Inactive { .. } => "inactive",
            LoginError::Unavailable(_) => "unavailable",
        }
    }
}

/// Checks a login for the server (global hashing pool, the server's clock).
pub async fn verify_login(state: &AppState, username: &str, password: &str) -> Result<User, LoginError> {
    verify_credentials(&state.db, Passwords::global(), state.clock.now(), username, password).await
}

/// [`verify_login`] with an explicit database, pool and time.
pub async fn verify_credentials(
    db: &DatabaseConnection,
    pool: &Passwords,
    now: DateTime<Utc>,
    username: &str,
    password: &str,
) -> Result<User, LoginError> {
    let unavailable = |e: &dyn std::fmt::Display| LoginError::Unavailable(e.to_string());
    // Over-long inputs cannot match; still one verification, on a bounded input.
    let password: String = password.chars().take(MAX_LEN + 1).collect();
    let found = if username.len() > 256 {
        None
    } else {
        users::Entity::find().filter(users::Column::Username.eq(username)).one(db).await.map_err(|e| unavailable(&e))?
    };
    let Some(user) = found else {
        pool.verify(password, DUMMY_HASH.to_string()).await.map_err(|e| unavailable(&e))?;
        return Err(LoginError::InvalidCredentials { user_id: None });
    };
    let ok = pool.verify(password, user.password_hash.clone()).await.map_err(|e| unavailable(&e))?;
    if !ok {
        users::Entity::update_many()
            .col_expr(users::Column::FailedLoginCount, Expr::col(users::Column::FailedLoginCount).add(1))
            .filter(users::Column::Id.eq(user.id.as_str()))
            .exec(db)
            .await
            .map_err(|e| unavailable(&e))?;
        users::bump_generation();
        return Err(LoginError::InvalidCredentials { user_id: Some(user.id) });
    }
    if !user.is_active {
        return Err(LoginError::Inactive { user_id: user.id });
    }
    users::Entity::update_many()
        .col_expr(users::Column::FailedLoginCount, Expr::value(0))
        .col_expr(users::Column::LastLoginAt, Expr::value(now))
        .filter(users::Column::Id.eq(user.id.as_str()))
        .exec(db)
        .await
        .map_err(|e| unavailable(&e))?;
    users::bump_generation();
    Ok(User::from(user))
}
