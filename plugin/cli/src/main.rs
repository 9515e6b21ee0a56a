//! `gddsp` — the GDDSP command line. All work is in the library; this only reports.

use std::process::ExitCode;

fn main() -> ExitCode {
    match gddsp_cli::run(std::env::args_os(), &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(gddsp_cli::CliError::Usage(e)) => {
            // clap formats help, version and usage errors itself (and picks the stream).
            let _ = e.print();
            ExitCode::from(if e.use_stderr() { 2 } else { 0 })
        }
        Err(gddsp_cli::CliError::Failed(e)) => {
            eprintln!("gddsp: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
