//! The user verbs of the command line (`tessera user create`) and the bootstrap administrator
//! printed at first start. Secrets go to stdout exactly once and never to the log.

use super::{CreateUserError, NewUser, bootstrap_admin, create_user, password};
use crate::cli::UserAction;
use crate::state::AppState;
use crate::{datadir, db};
use std::io::BufRead;
use std::process::ExitCode;
use tessera_config::Settings;

/// At `serve`: creates the administrator when there are no users and prints its password once.
pub async fn bootstrap(state: &AppState) -> anyhow::Result<()> {
    let username = &state.settings.bootstrap_admin_username;
    if let Some(pw) = bootstrap_admin(&state.db, username).await? {
        println!("Created the bootstrap administrator (role super_admin).");
        println!("  username: {username}");
        println!("  password: {pw}");
        println!("This password is shown only once and must be changed at the first sign-in.");
        tracing::warn!(username = %username, "bootstrap administrator created; its one-time password was printed to stdout");
    }
    Ok(())
}

pub async fn run(settings: &Settings, action: UserAction) -> anyhow::Result<ExitCode> {
    let UserAction::Create { username, email, display_name, password_stdin, roles } = action;
    let (password, generated) = if password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        (line.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (password::generate(), true)
    };
    datadir::ensure(&settings.data_dir)?;
    let conn = db::connect(settings).await?;
    if !settings.skip_db_init {
        db::migrate_up(&conn).await?;
    }
    let new = NewUser { username, email: Some(email), password: password.clone(), display_name, roles, must_change_password: generated };
    match create_user(&conn, new).await {
        Ok(user) => {
            println!("created user {} ({})", user.username, user.id);
            if generated {
                println!("password: {password}");
                println!("This password is shown only once.");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ (CreateUserError::Invalid { .. } | CreateUserError::Policy(_) | CreateUserError::Duplicate | CreateUserError::UnknownRole(_))) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}
