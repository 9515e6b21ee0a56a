//! `gddsp-train` — GDDSP's training command line. All work is in the library; this only reports.

use std::process::ExitCode;

fn main() -> ExitCode {
    match gddsp_train::cli::run(std::env::args_os(), &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(gddsp_train::cli::CliError::Usage(e)) => {
            let _ = e.print();
            ExitCode::from(if e.use_stderr() { 2 } else { 0 })
        }
        Err(gddsp_train::cli::CliError::Failed(e)) => {
            eprintln!("gddsp-train: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
