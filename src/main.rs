//! The `tessera` binary.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = tessera::cli::Cli::parse();
    let system = actix_web::rt::System::new();
    match system.block_on(tessera::commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
