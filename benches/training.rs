//! Criterion benchmarks: one pretext training epoch of the seed preset (4,000 rotated images)
//! and encoder inference throughput on the 10,000 MNIST test images.
//!
//! `PRETEXT_DATA_DIR=../shared/data cargo bench --bench training` (MNIST folder as for `pretext`).

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pretext::config::{Count, Preset, RunConfig};
use burn::tensor::Device;
use pretext::pipeline::{self, RunData, Session};

// The allocator the `pretext` binary uses: allocation churn is a large share of training time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn mnist(config: &mut RunConfig) -> RunData {
    let dir = std::env::var_os("PRETEXT_DATA_DIR").map(PathBuf::from);
    pipeline::load_data(config, dir.as_deref()).expect("MNIST (set PRETEXT_DATA_DIR to the folder that holds mnist/)")
}

fn pretext_epoch(c: &mut Criterion) {
    let mut config = RunConfig::preset(Preset::Seed);
    config.pretext.epochs = 1;
    let data = mnist(&mut config);
    let mut group = c.benchmark_group("pretext_epoch");
    group.sample_size(10).throughput(Throughput::Elements(4 * data.unlabeled.len() as u64));
    group.bench_function("seed_preset", |b| b.iter(|| pipeline::pretrain(&config, &data, &Session::default()).unwrap()));
    group.finish();
}

fn inference(c: &mut Criterion) {
    let mut config = RunConfig::preset(Preset::Seed);
    config.data.test_size = Count::All;
    let data = mnist(&mut config);
    let encoder = pipeline::initial_encoder(&config, data.shape(), &Device::flex());
    let mut group = c.benchmark_group("inference");
    group.sample_size(10).throughput(Throughput::Elements(data.test.len() as u64));
    group.bench_function("encoder_features", |b| {
        b.iter(|| pipeline::encode(&encoder, &data.test, data.num_classes(), data.pixels))
    });
    group.finish();
}

criterion_group!(benches, pretext_epoch, inference);
criterion_main!(benches);
