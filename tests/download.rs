//! Downloads from a local HTTP server: a good mirror is used after a failing one, and a
//! checksum mismatch or a cut transfer is named and leaves no file that looks complete.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use common::files_in;

use pretext::data::catalog::{DatasetSpec, IdxFile};
use pretext::data::cifar::{CIFAR10, CifarSpec};
use pretext::error::Error;
use sha2::{Digest, Sha256};

const NAMES: [&str; 4] = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// The (gzipped) contents served for `name`: a tiny valid IDX file of one image and label,
/// or for CIFAR's archive, its six batch files of two records each.
fn contents(name: &str) -> Vec<u8> {
    if name == "cifar-10-binary.tar" {
        return cifar_archive();
    }
    let idx: &[u8] = if name.contains("images") { &[0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7] } else { &[0, 0, 8, 1, 0, 0, 0, 1, 3] };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(idx).unwrap();
    gz.finish().unwrap()
}

/// `cifar-10-batches-bin/<batch>.bin` as a gzipped tar, like the real archive.
fn cifar_archive() -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    let record: Vec<u8> = std::iter::once(3).chain(std::iter::repeat_n(9, 3072)).collect();
    for name in CIFAR10.train_files.iter().chain([&CIFAR10.test_file]) {
        let bytes = record.repeat(2);
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("cifar-10-batches-bin/{name}"), &bytes[..]).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn sha256_of_uncompressed(gz: &[u8]) -> String {
    let mut hasher = Sha256::new();
    std::io::copy(&mut flate2::read::GzDecoder::new(gz), &mut hasher).unwrap();
    format!("{:x}", hasher.finalize())
}

/// Serves `/good/<file>` correctly, `/bad/<file>` with other bytes, `/cut/<file>` cut after
/// half its announced length, anything else as 404. Returns the base address.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut request = String::new();
            BufReader::new(&stream).read_line(&mut request).unwrap();
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let name = path.rsplit('/').next().unwrap().trim_end_matches(".gz").to_string();
            let good = contents(&name);
            let (status, announced, body) = match path.split('/').nth(1) {
                Some("good") => ("200 OK", good.len(), good),
                Some("bad") => {
                    let other = contents(&name.replace("images", "labels"));
                    ("200 OK", other.len(), other)
                }
                Some("cut") => ("200 OK", good.len(), good[..good.len() / 2].to_vec()),
                _ => ("404 Not Found", 0, Vec::new()),
            };
            let head = format!("HTTP/1.1 {status}\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(&body));
        }
    });
    address
}

/// A data set of the four tiny files, downloaded from `mirrors` (base addresses).
fn spec(mirrors: Vec<String>) -> DatasetSpec {
    let files = NAMES.map(|name| IdxFile { name, sha256: Box::leak(sha256_of_uncompressed(&contents(name)).into_boxed_str()) });
    let mirrors: Vec<&'static str> = mirrors.into_iter().map(|m| &*Box::leak(m.into_boxed_str())).collect();
    DatasetSpec { name: "tiny", classes: &["a", "b", "c", "d"], files, mirrors: Box::leak(mirrors.into_boxed_slice()) }
}

#[test]
fn a_failing_mirror_is_skipped_and_the_files_are_verified() {
    let base = serve();
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(vec![format!("{base}/missing/"), format!("{base}/good/")]);
    spec.fetch(dir.path()).unwrap();
    assert_eq!(files_in(dir.path()), ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]);
    spec.verify(dir.path()).unwrap();
    assert_eq!(spec.load(dir.path()).unwrap().train.len(), 1);
}

#[test]
fn a_checksum_mismatch_names_the_file_and_both_checksums_and_keeps_nothing() {
    let base = serve();
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(vec![format!("{base}/bad/")]);
    let err = spec.fetch(dir.path()).unwrap_err();
    let message = err.to_string();
    let Error::Checksum { file, expected, actual } = err else { panic!("{message}") };
    assert_eq!(file, dir.path().join("train-images-idx3-ubyte.gz"));
    assert_eq!(expected, spec.files[0].sha256);
    assert!(message.contains(&expected) && message.contains(&actual) && message.contains("the file was not kept"), "{message}");
    assert!(files_in(dir.path()).is_empty(), "{:?}", files_in(dir.path()));
}

#[test]
fn a_cut_transfer_is_a_download_error_and_leaves_no_complete_looking_file() {
    let base = serve();
    let dir = tempfile::tempdir().unwrap();
    let err = spec(vec![format!("{base}/missing/"), format!("{base}/cut/")]).fetch(dir.path()).unwrap_err();
    let Error::Download { ref tried, .. } = err else { panic!("{err}") };
    let urls: Vec<&str> = tried.iter().map(|(url, _)| url.as_str()).collect();
    assert_eq!(urls, [format!("{base}/missing/train-images-idx3-ubyte.gz"), format!("{base}/cut/train-images-idx3-ubyte.gz")], "every mirror tried is named");
    // Offline, the error says what a local copy needs and where to point pretext at it.
    let message = err.to_string();
    for needed in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "PRETEXT_DATA_DIR", "`data_dir`"] {
        assert!(message.contains(needed), "{needed} not in: {message}");
    }
    assert!(files_in(dir.path()).iter().all(|f| f.ends_with(".part")), "{:?}", files_in(dir.path()));
}

/// CIFAR-10 served by `base`, with the archive's checksum `sha256` (the served one's by default).
fn cifar_spec(base: &str, sha256: Option<&str>) -> CifarSpec {
    let actual = format!("{:x}", Sha256::digest(cifar_archive()));
    let sha256: &'static str = Box::leak(sha256.map_or(actual, str::to_string).into_boxed_str());
    let mirrors: &'static [&'static str] = Box::leak(vec![&*Box::leak(format!("{base}/good/").into_boxed_str())].into_boxed_slice());
    CifarSpec { sha256, mirrors, ..CIFAR10 }
}

#[test]
fn cifar_archive_is_verified_then_unpacked_into_batches_that_load() {
    let base = serve();
    let dir = tempfile::tempdir().unwrap();
    let spec = cifar_spec(&base, None);
    spec.fetch(dir.path()).unwrap();
    let data = spec.load(&spec.resolve_dir(Some(dir.path())).unwrap()).unwrap();
    assert_eq!((data.train.len(), data.test.len(), data.train.label(0)), (10, 2, 3));
    assert_eq!(data.train.shape().to_string(), "32x32 RGB");

    let other = tempfile::tempdir().unwrap();
    let err = cifar_spec(&base, Some(&"0".repeat(64))).fetch(other.path()).unwrap_err();
    assert!(matches!(err, Error::Checksum { ref file, .. } if file.ends_with("cifar-10-binary.tar.gz")), "{err}");
    assert!(files_in(other.path()).is_empty(), "{:?}", files_in(other.path()));
}
