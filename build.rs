//! Records the commit the binary is built from (`git describe`, "-dirty" with uncommitted
//! changes; "unknown" outside a git checkout), which every report names.
fn main() {
    // `--no-optional-locks`: `describe --dirty` would otherwise refresh .git/index, and a
    // watched index that the build itself touched made the next `cargo run` rebuild the crate.
    let commit = std::process::Command::new("git")
        .args(["--no-optional-locks", "describe", "--always", "--dirty", "--abbrev=12"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PRETEXT_COMMIT={commit}");
    // A commit, a checkout or an edit of the sources can change the answer. Not .git/index:
    // `git status` in a shell or an editor rewrites it without changing anything built.
    for changed in [".git/HEAD", ".git/refs/heads", "src", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={changed}");
    }
}
