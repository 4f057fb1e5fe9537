//! The `fusionrec` command-line tool (native only; see `fusionrec --help`).

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    fusionrec::cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
