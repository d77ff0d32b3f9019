//! What each CLI verb does. Verbs that touch keys talk to a running server through the control
//! socket, or open the data directory themselves when no server holds it.

use crate::cli::{Cli, ClientAction, Command, ConfigAction, KeysAction, MigrateAction};
use crate::{control, datadir, db, keys_view, server};
use std::process::ExitCode;
use std::sync::Arc;
use tessera_config::Settings;
use tessera_migration::{Migrator, MigratorTrait};

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let loaded = Settings::load(cli.config.as_deref());
    if let Some(Command::Config { action: ConfigAction::Check }) = &cli.command {
        return Ok(match loaded {
            Ok(s) => {
                println!("{}", s.redacted());
                println!("configuration OK");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        });
    }
    let settings = match loaded {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    crate::logging::init(&settings);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => server::run(settings).await?,
        Command::Config { .. } => {}
        Command::Migrate { action } => migrate(&settings, action).await?,
        Command::Keys { action } => return keys(settings, action).await,
        Command::User { action } => return crate::users::cli::run(&settings, action).await,
        Command::Client { action } => return client(&settings, action).await,
        Command::Cluster { action } => return crate::cluster_cli::run(&settings, action).await,
    }
    Ok(ExitCode::SUCCESS)
}

async fn migrate(settings: &Settings, action: MigrateAction) -> anyhow::Result<()> {
    let conn = db::connect(settings).await?;
    match action {
        MigrateAction::Up => {
            db::migrate_up(&conn).await?;
            println!("migrations applied");
        }
        MigrateAction::Down { steps } => {
            Migrator::down(&conn, steps).await?;
            println!("migrations rolled back");
        }
        MigrateAction::Status => {
            for (name, applied) in tessera_migration::status(&conn).await? {
                println!("{:<9} {name}", if applied { "applied" } else { "pending" });
            }
        }
    }
    Ok(())
}

async fn keys(settings: Settings, action: KeysAction) -> anyhow::Result<ExitCode> {
    let command = match action {
        KeysAction::List { .. } => "keys list",
        KeysAction::Rotate => "keys rotate",
    };
    let reply = match control::request(&settings.data_dir, command).await {
        Some(reply) => reply,
        None => offline_keys(settings, command).await?,
    };
    if let Some(err) = reply.get("error") {
        eprintln!("error: {}", err.as_str().unwrap_or("unknown"));
        return Ok(ExitCode::FAILURE);
    }
    match action {
        KeysAction::List { json: true } => println!("{}", serde_json::to_string_pretty(&reply["keys"])?),
        KeysAction::List { json: false } => print!("{}", keys_view::table(reply["keys"].as_array().map(|v| v.as_slice()).unwrap_or(&[]))),
        KeysAction::Rotate => {
            for kid in reply["published"].as_array().into_iter().flatten() {
                println!("published {}", kid.as_str().unwrap_or(""));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// No server is running on this data directory: open it, do the work, close it.
async fn offline_keys(settings: Settings, command: &str) -> anyhow::Result<serde_json::Value> {
    datadir::ensure(&settings.data_dir)?;
    let node = server::prepare(settings, Arc::new(tessera_actors::clock::SystemClock)).await?;
    let reply = match command {
        "keys rotate" => match node.state.keys.send(tessera_actors::keys::Rotate).await? {
            Ok(kids) => serde_json::json!({ "published": kids }),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        },
        _ => serde_json::json!({ "keys": keys_view::list(&node.state.ring.cluster().keys()) }),
    };
    node.shutdown().await;
    Ok(reply)
}

/// `tessera client create`: registers a client straight in the database (no raft store needed).
async fn client(settings: &Settings, action: ClientAction) -> anyhow::Result<ExitCode> {
    let ClientAction::Create { name, redirect_uris, post_logout_redirect_uris, public, grant_types, scopes, json } = action;
    let or_default = |v: Vec<String>, d: &[&str]| if v.is_empty() { d.iter().map(|s| s.to_string()).collect() } else { v };
    let new = crate::clients::NewClient {
        name,
        redirect_uris,
        post_logout_redirect_uris,
        public,
        grant_types: or_default(grant_types, &crate::clients::DEFAULT_GRANTS),
        scopes: or_default(scopes, &crate::clients::DEFAULT_SCOPES),
        require_consent: true,
    };
    let conn = db::connect(settings).await?;
    if !settings.skip_db_init {
        db::migrate_up(&conn).await?;
    }
    let pepper = crate::clients::derive_pepper(&datadir::key_encryption_key(settings)?);
    let (c, secret) = match crate::clients::register(&conn, &pepper, new).await {
        Ok(r) => r,
        Err(crate::clients::RegisterError::Invalid { field, message }) => {
            eprintln!("error: {field}: {message}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    if json {
        println!("{}", serde_json::json!({ "client_id": c.client_id, "client_secret": secret }));
    } else {
        println!("client_id: {}", c.client_id);
        match secret {
            Some(s) => println!("client_secret: {s}\n(store the secret now: it is shown only once)"),
            None => println!("public client: no secret; it must use PKCE"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
