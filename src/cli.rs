//! The command line: `tessera serve | migrate | config check | keys … | cluster …`. Every verb has `--help`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "tessera", version, about = "Tessera: an OAuth 2.1 / OpenID Connect authorization server")]
pub struct Cli {
    /// TOML configuration file (default: ./tessera.toml when present). Environment variables override it.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default when no command is given).
    Serve,
    /// Database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Raft cluster membership, through the local node's cluster listener.
    Cluster {
        #[command(subcommand)]
        action: crate::cluster_cli::ClusterAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back every applied migration (or the last N with --steps).
    Down {
        #[arg(long)]
        steps: Option<u32>,
    },
    /// List migrations and whether each is applied.
    Status,
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Print the effective configuration (secrets redacted); exit non-zero on errors.
    Check,
}

#[derive(Subcommand, Debug)]
pub enum KeysAction {
    /// List signing keys: kid, algorithm, state, creation time.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Publish a new key of each algorithm; it becomes active after the JWKS max-age.
    Rotate,
}
