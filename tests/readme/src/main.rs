//! Runs one of the workspace README's Rust blocks, as its own process so
//! that its arguments are its own: `README_BLOCK=LINE lime-readme ARGS…`
//! (LINE is the line of the block's opening fence); without README_BLOCK,
//! lists the blocks' lines.
#![forbid(unsafe_code)]

use std::process::ExitCode;

include!(concat!(env!("OUT_DIR"), "/blocks.rs"));

fn main() -> ExitCode {
    let Some(wanted) = std::env::var("README_BLOCK").ok() else {
        for (line, _) in BLOCKS {
            println!("{line}");
        }
        return ExitCode::SUCCESS;
    };
    let Some((line, run)) = BLOCKS.iter().find(|(line, _)| line.to_string() == wanted) else {
        eprintln!("README.md has no Rust block at line {wanted}");
        return ExitCode::from(2);
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("README.md:{line}: {error}");
            ExitCode::FAILURE
        }
    }
}
