//! Records the commit the binary is built from (`git describe`, "-dirty" with uncommitted
//! changes; "unknown" outside a git checkout), which every report names.
fn main() {
    let commit = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PRETEXT_COMMIT={commit}");
    // A commit, a checkout or an edit of the sources can change the answer.
    for changed in [".git/HEAD", ".git/index", ".git/refs/heads", "src", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={changed}");
    }
}
