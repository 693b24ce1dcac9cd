//! How much memory the process may use: the smallest limit of its own memory cgroups (v2 or v1,
//! see `cgroup`), never more than the machine has; the machine's memory where no cgroup limits
//! it. The body budget's default is derived from it, so a process sized for the service is not
//! killed by the bodies it receives.

use super::cgroup::SystemRoot;

/// The memory limit in bytes, if one can be read.
pub(crate) fn memory_limit() -> Option<u64> {
    limit_in(&SystemRoot::live())
}

pub(super) fn limit_in(system: &SystemRoot) -> Option<u64> {
    match (system.cgroup_memory_limit(), system.machine_memory()) {
        (Some(cgroup), Some(machine)) => Some(cgroup.min(machine)),
        (cgroup, machine) => cgroup.or(machine),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_limit_is_at_most_the_machine_memory() {
        let system = SystemRoot::live();
        let machine = system.machine_memory().expect("/proc/meminfo");
        assert!(memory_limit().is_some_and(|limit| limit > 0 && limit <= machine));
    }
}
