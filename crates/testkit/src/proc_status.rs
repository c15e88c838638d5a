//! A process's memory as Linux reports it in `/proc/<pid>/status`, for the load examples, the soak and the
//! benchmarks that watch a server they started.

/// The process's resident set now (`VmRSS`), in KiB; 0 when the process is gone or the system has no `/proc`.
pub fn resident_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// The largest resident set the process has had (`VmHWM`), in KiB; 0 as for [`resident_kib`].
pub fn peak_resident_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_resident_set_no_larger_than_its_peak() {
        let now = resident_kib(std::process::id());
        assert!(now > 0);
        assert!(peak_resident_kib(std::process::id()) >= now);
        assert_eq!(resident_kib(u32::MAX), 0);
    }
}
