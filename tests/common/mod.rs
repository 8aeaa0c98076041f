//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// The folder holding the MNIST IDX files: `$PRETEXT_DATA_DIR`, else `../shared/data` (the
/// workplace copy CI uses), else the user cache, downloaded there once (checksums verified).
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PRETEXT_DATA_DIR") {
        return PathBuf::from(dir);
    }
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if shared.is_dir() {
        return shared;
    }
    let spec = pretext::data::catalog::MNIST;
    let cache = pretext::data::catalog::cache_dir(spec.name);
    if spec.resolve_dir(Some(&cache)).is_err() {
        spec.fetch(&cache).expect("MNIST downloads (or set PRETEXT_DATA_DIR to local IDX files)");
    }
    cache
}

/// The folder holding Fashion-MNIST: wherever pretext finds it (Debian's
/// `/usr/share/datasets/fashion-mnist`, which `.ci/run` installs, or the user cache), else
/// downloaded into the cache once (checksums verified).
pub fn fashion_mnist_dir() -> PathBuf {
    let spec = pretext::data::catalog::FASHION_MNIST;
    spec.resolve_dir(None).unwrap_or_else(|_| {
        let cache = pretext::data::catalog::cache_dir(spec.name);
        spec.fetch(&cache).expect("Fashion-MNIST downloads (or apt-get install dataset-fashion-mnist)");
        cache
    })
}

/// Every float parameter value of `module`, in visiting order.
pub fn parameter_values<M: Module>(module: &M) -> Vec<f32> {
    #[derive(Default)]
    struct Values(Vec<f32>);
    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.extend(param.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }
    let mut values = Values::default();
    module.visit(&mut values);
    values.0
}

/// Runs the `pretext` binary with `args`, pointed at the test data.
pub fn pretext(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pretext"))
        .args(args)
        .env("PRETEXT_DATA_DIR", data_dir())
        .output()
        .expect("binary runs")
}

/// Panics with the process output unless it succeeded.
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The names of the files in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}
