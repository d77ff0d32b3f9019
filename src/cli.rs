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
    /// OAuth clients.
    Client {
        #[command(subcommand)]
        action: ClientAction,
    },
    /// User accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserAction {
    /// Create a user. The password is read from stdin with --password-stdin, else generated and printed once.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        /// Assign an existing role by name (repeatable).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
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

#[derive(Subcommand, Debug)]
pub enum ClientAction {
    /// Register a client; prints its client_id and, for a confidential client, its secret (once).
    Create {
        #[arg(long)]
        name: String,
        /// A redirect URI (repeat for several).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// A post-logout redirect URI (repeat for several).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (native app or SPA): no secret, PKCE only.
        #[arg(long)]
        public: bool,
        /// A grant type (repeat; default: authorization_code refresh_token).
        #[arg(long = "grant-type", value_name = "GRANT")]
        grant_types: Vec<String>,
        /// A scope the client may request (repeat; default: openid profile email offline_access).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Print JSON: {"client_id": ..., "client_secret": ... | null}.
        #[arg(long)]
        json: bool,
    },
}
