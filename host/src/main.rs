//! `sqz-host`: command-line driver for the sqz SqueezeNet accelerator (see `host::cli`).

fn main() -> std::process::ExitCode {
    host::cli::main()
}
