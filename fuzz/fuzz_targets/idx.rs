//! Any bytes, raw or gzip, given to the IDX parser give a consistent array or a
//! `MalformedData` error: never a panic, and (libFuzzer's memory limit watches this) never a
//! huge allocation before the header is checked against the input's size.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pretext::data::idx::parse_stored;
use pretext::error::Error;

fuzz_target!(|data: &[u8]| {
    match parse_stored(data, data.len() as u64, 3, Path::new("fuzz-input")) {
        Ok(array) => assert_eq!(array.data.len(), array.dims.iter().product::<usize>()),
        Err(Error::MalformedData { .. }) => {}
        Err(other) => panic!("unexpected kind of error: {other}"),
    }
});
