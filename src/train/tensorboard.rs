//! TensorBoard event files: scalars per epoch that `tensorboard --logdir runs` plots while a
//! run trains.
//!
//! An event file is a TFRecord stream of `tensorflow.Event` protocol buffers: a first event
//! naming the file version, then one event per epoch whose `Summary` holds a simple value per
//! scalar. The messages are written with rust-protobuf's coded stream. The Rust crates that
//! write event files are unmaintained (tensorboard-rs: protobuf 2, image 0.23) or generate
//! their code at build time with `protoc` (tboard), so the three message fields used here are
//! encoded directly.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use protobuf::CodedOutputStream;

use crate::error::{Error, Result};

/// The version string TensorBoard expects in a file's first event.
const FILE_VERSION: &str = "brain.Event:2";

/// An event file being written; every event is flushed as it is written.
#[derive(Debug)]
pub struct EventFile {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventFile {
    /// Creates (or empties) the event file at `path` and writes its version event.
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut events = Self { path: path.to_path_buf(), out: BufWriter::new(file) };
        events.write_record(&encode_event(now(), None, Some(FILE_VERSION), &[]))?;
        Ok(events)
    }

    /// Writes the scalars `(tag, value)` of step `step`.
    pub fn write_scalars(&mut self, step: i64, scalars: &[(&str, f64)]) -> Result<()> {
        self.write_record(&encode_event(now(), Some(step), None, scalars))
    }

    /// Frames `data` as a TFRecord (length, its masked CRC, data, its masked CRC) and flushes.
    fn write_record(&mut self, data: &[u8]) -> Result<()> {
        let length = (data.len() as u64).to_le_bytes();
        let record = [&length[..], &masked_crc(&length).to_le_bytes(), data, &masked_crc(data).to_le_bytes()].concat();
        self.out.write_all(&record).and_then(|()| self.out.flush()).map_err(|e| Error::io(&self.path, e))
    }
}

/// Seconds since the Unix epoch, TensorBoard's `wall_time`.
fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// A `tensorflow.Event`: wall_time = 1, step = 2, file_version = 3, summary = 5, whose
/// `Summary` repeats value = 1, each a tag = 1 and a simple_value = 2 (a float).
fn encode_event(wall_time: f64, step: Option<i64>, file_version: Option<&str>, scalars: &[(&str, f64)]) -> Vec<u8> {
    let summary = encode(|out| {
        for (tag, value) in scalars {
            let value = encode(|out| {
                out.write_string(1, tag)?;
                out.write_float(2, *value as f32)
            });
            out.write_bytes(1, &value)?;
        }
        Ok(())
    });
    encode(|out| {
        out.write_double(1, wall_time)?;
        if let Some(step) = step {
            out.write_int64(2, step)?;
        }
        if let Some(version) = file_version {
            out.write_string(3, version)?;
        }
        if !scalars.is_empty() {
            out.write_bytes(5, &summary)?;
        }
        Ok(())
    })
}

/// The bytes `fields` writes.
fn encode(fields: impl FnOnce(&mut CodedOutputStream) -> protobuf::Result<()>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut out = CodedOutputStream::vec(&mut bytes);
    // Writing to a Vec cannot fail.
    fields(&mut out).and_then(|()| out.flush()).expect("protobuf encoding into memory");
    drop(out);
    bytes
}

/// TFRecord's checksum: CRC-32C, rotated and offset so that a CRC of data holding CRCs stays
/// informative.
fn masked_crc(data: &[u8]) -> u32 {
    crc32c::crc32c(data).rotate_right(15).wrapping_add(0xa282_ead8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What TensorFlow 2.21 writes for the same two events
    /// (`tf.io.TFRecordWriter` over `tf.compat.v1.Event(...).SerializeToString()`).
    const TENSORFLOW_BYTES: &str = concat!(
        "1800000000000000a37f4b2209000000000000f83f1a0d627261696e2e4576656e743a322a28646c2f",
        "000000000000006d5d1d5009000000000000f83f10032a220a0b0a046c6f7373150000803e0a130a0c",
        "6b6e6e5f6163637572616379150000403f39beb9f8",
    );

    #[test]
    fn events_are_byte_for_byte_what_tensorflow_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.out.tfevents.test");
        let mut events = EventFile { path: path.clone(), out: BufWriter::new(File::create(&path).unwrap()) };
        events.write_record(&encode_event(1.5, None, Some(FILE_VERSION), &[])).unwrap();
        events.write_record(&encode_event(1.5, Some(3), None, &[("loss", 0.25), ("knn_accuracy", 0.75)])).unwrap();
        let written: String = std::fs::read(&path).unwrap().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(written, TENSORFLOW_BYTES);
    }

    #[test]
    fn a_new_event_file_starts_with_its_version_and_is_flushed_as_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.out.tfevents.test");
        let mut events = EventFile::create(&path).unwrap();
        events.write_scalars(1, &[("loss", 1.0)]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // The version event: 8 + 4 + 24 + 4 bytes, the scalar event after it.
        assert_eq!(&bytes[23..36], FILE_VERSION.as_bytes());
        assert_eq!(&bytes[bytes.len() - 13..bytes.len() - 9], b"loss");
    }
}
