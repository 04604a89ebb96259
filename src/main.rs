//! The `huntzen` binary: see `huntzen --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    huntzen::app::cli::main()
}
