//! How much memory this process has used and the machine has, for the estimate a phase prints
//! after its first steps.

/// The most resident memory this process has held so far, in bytes.
pub fn peak() -> Option<u64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the rusage it is pointed at, which lives for the call.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: getrusage succeeded, so the struct is initialised (and it was zeroed before).
    let max = unsafe { usage.assume_init() }.ru_maxrss as u64;
    // Linux counts kibibytes, macOS bytes.
    Some(if cfg!(target_os = "macos") { max } else { max * 1024 })
}

/// The machine's physical memory, in bytes.
pub fn machine() -> Option<u64> {
    // SAFETY: sysconf only reads system constants.
    let (pages, page_size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    (pages > 0 && page_size > 0).then(|| pages as u64 * page_size as u64)
}

/// `bytes` in GiB with one decimal.
pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_holds_some_but_not_all_of_the_machine() {
        let (peak, machine) = (peak().unwrap(), machine().unwrap());
        // A test process holds at least a mebibyte and less than the machine.
        assert!(peak > 1 << 20 && peak < machine, "{peak} of {machine}");
        assert_eq!(gib(3 << 29), "1.5 GiB");
    }
}
