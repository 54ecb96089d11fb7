//! Ad-hoc driver for the `ivr::cli` functions until `pbx ivr` is wired:
//! `cargo run -p ivr --example ivr -- validate FLOW...`,
//! `render FLOW dot|mermaid`, `simulate FLOW DIGITS [AT] [HTTP_FIXTURE]`.

use std::path::{Path, PathBuf};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, code) = match args.first().map(String::as_str) {
        Some("validate") => ivr::cli::validate_cmd(&args[1..].iter().map(PathBuf::from).collect::<Vec<_>>()),
        Some("render") if args.len() >= 2 => ivr::cli::render_cmd(Path::new(&args[1]), args.get(2).map_or("mermaid", String::as_str)),
        Some("simulate") if args.len() >= 2 => {
            let mut script = ivr::SimScript::default();
            let parsed = (|| -> ivr::Result<()> {
                script.digits = ivr::SimScript::parse_digits(args.get(2).map_or("", String::as_str))?;
                if let Some(at) = args.get(3) {
                    script.at = ivr::SimScript::parse_at(at)?;
                }
                if let Some(f) = args.get(4) {
                    script.http = ivr::SimScript::load_http_fixture(Path::new(f))?;
                }
                Ok(())
            })();
            match parsed {
                Ok(()) => ivr::cli::simulate_cmd(Path::new(&args[1]), &script),
                Err(e) => (format!("{e}\n"), 2),
            }
        }
        _ => ("usage: ivr validate FLOW... | render FLOW [dot|mermaid] | simulate FLOW DIGITS [AT] [HTTP_FIXTURE]\n".into(), 2),
    };
    print!("{out}");
    std::process::exit(code);
}
