//! `drydock validate FILE...`: load and check scenario files without running them.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `drydock validate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scenario files (or built-in names) to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Checks each file; prints `ok` or every problem found. Exit code 2 if any is invalid.
pub fn cmd(args: &Args) -> anyhow::Result<ExitCode> {
    let mut bad = 0;
    for f in &args.files {
        let arg = f.to_string_lossy();
        match drydock_scenarios::load_named_or_path(&arg) {
            Ok(s) => println!("ok: {} (scenario `{}`)", f.display(), s.name),
            Err(e) => {
                bad += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if bad > 0 {
        eprintln!("{bad} of {} file(s) invalid", args.files.len());
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
