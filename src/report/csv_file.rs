//! Rows of serialisable records as CSV with a header, the format pandas reads directly.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

/// Writes `rows` to `path` as CSV, one header row from the field names.
pub fn write_rows<T: Serialize>(rows: &[T], path: &Path) -> Result<()> {
    let mut writer = csv::Writer::from_path(path).map_err(|e| Error::csv(path, e))?;
    for row in rows {
        writer.serialize(row).map_err(|e| Error::csv(path, e))?;
    }
    writer.flush().map_err(|e| Error::io(path, e))
}
