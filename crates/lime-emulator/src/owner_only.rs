//! Files only their owner may read (0600 on Unix): the signing key the
//! demo keeps, and the CA certificate `lime serve` writes.

use std::io::Write;
use std::path::Path;

/// Creates `path` holding `bytes`, readable by its owner alone; never
/// replaces a file already there.
///
/// # Errors
/// The I/O error, `AlreadyExists` among them.
pub fn create(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
}

/// Writes `bytes` to `path` (its directories made first), readable by its
/// owner alone, replacing any file there at once: a temporary file beside
/// it, renamed over it, so a reader never sees half of it.
///
/// # Errors
/// The I/O error; the temporary file is removed.
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary); // a crashed run's
    let written = create(&temporary, bytes).and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}
