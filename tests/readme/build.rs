//! Writes every ```rust block of the workspace README into a module of its
//! own, its `main` made public, and a table of them for `src/main.rs`.

use std::fmt::Write as _;

fn main() {
    let readme_path = "../../README.md";
    println!("cargo:rerun-if-changed={readme_path}");
    let readme = std::fs::read_to_string(readme_path).expect("the workspace README");
    let mut modules = String::new();
    let mut table = String::from("pub const BLOCKS: &[(usize, fn() -> Result<(), String>)] = &[\n");
    let mut block: Option<(usize, String)> = None;
    for (index, line) in readme.lines().enumerate() {
        match &mut block {
            None if line.starts_with("```rust") => block = Some((index + 1, String::new())),
            None => {}
            Some((start, code)) if line.starts_with("```") => {
                let n = *start;
                let code = code
                    .replace("\nasync fn main(", "\npub async fn main(")
                    .replace("\nfn main(", "\npub fn main(");
                assert!(code.contains("pub "), "README.md:{n}: the block has no main");
                writeln!(modules, "#[allow(dead_code)]\nmod line_{n} {{\n{code}}}").unwrap();
                writeln!(table, "    ({n}, || line_{n}::main().map_err(|e| format!(\"{{e:?}}\"))),").unwrap();
                block = None;
            }
            Some((_, code)) => {
                code.push('\n');
                code.push_str(line);
            }
        }
    }
    table.push_str("];\n");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("blocks.rs");
    std::fs::write(out, modules + &table).unwrap();
}
