//! `gossip status` and `gossip set`.

use std::process::ExitCode;

use crate::runtime::client::AdminClient;

use super::render::{render_status, status_json};
use super::AdminArgs;

async fn client(args: &AdminArgs) -> Result<AdminClient, ExitCode> {
    let access = args.access().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    access.client(args.addr).await.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}

pub async fn status(args: &AdminArgs, json: bool) -> ExitCode {
    let client = match client(args).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client.status().await {
        Ok(report) => {
            if json {
                match serde_json::to_string_pretty(&status_json(&report)) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{}", render_status(&report));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

pub async fn set(args: &AdminArgs, key: &str, value: &str) -> ExitCode {
    let client = match client(args).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client.set(key, value).await {
        Ok(version) => {
            println!("{} set {key}={value:?} at version {version}", args.addr);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
