//! How much memory the process may use: its container's limit (the memory cgroup's, v2 or v1)
//! where there is one, else the machine's memory. The body budget's default is derived from it,
//! so a container sized for the service is not killed by the bodies it receives.

use std::path::Path;

/// cgroup v1 reports "no limit" as a number near 2^63.
const UNLIMITED_V1: u64 = 1 << 60;

/// The memory limit in bytes, if one can be read.
pub(crate) fn memory_limit() -> Option<u64> {
    cgroup_limit(Path::new("/sys/fs/cgroup")).or_else(machine_memory)
}

/// The memory cgroup's limit under `root`: v2's `memory.max`, else v1's
/// `memory/memory.limit_in_bytes`; `None` when unlimited or absent.
fn cgroup_limit(root: &Path) -> Option<u64> {
    let read = |path: &str| std::fs::read_to_string(root.join(path)).ok();
    if let Some(max) = read("memory.max") {
        return max.trim().parse().ok();
    }
    let limit: u64 = read("memory/memory.limit_in_bytes")?.trim().parse().ok()?;
    (limit < UNLIMITED_V1).then_some(limit)
}

/// `MemTotal` from `/proc/meminfo`.
fn machine_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(files: &[(&str, &str)]) -> std::path::PathBuf {
        let root = std::env::temp_dir().join(format!("cgroup-{}", uuid::Uuid::new_v4()));
        for (path, content) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        root
    }

    #[test]
    fn reads_cgroup_v2_then_v1_and_treats_no_limit_as_none() {
        let gib2 = 2u64 << 30;
        assert_eq!(
            cgroup_limit(&root_with(&[("memory.max", "2147483648\n")])),
            Some(gib2)
        );
        assert_eq!(cgroup_limit(&root_with(&[("memory.max", "max\n")])), None);
        let v1 = root_with(&[("memory/memory.limit_in_bytes", "2147483648\n")]);
        assert_eq!(cgroup_limit(&v1), Some(gib2));
        let unlimited = root_with(&[("memory/memory.limit_in_bytes", "9223372036854771712\n")]);
        assert_eq!(cgroup_limit(&unlimited), None);
        assert_eq!(cgroup_limit(&root_with(&[])), None);
        assert!(machine_memory().is_some_and(|bytes| bytes > 0));
    }
}
