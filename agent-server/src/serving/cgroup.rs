//! The memory limit of the process's own cgroup, read the way the kernel applies it: every cgroup
//! from the process's own up to the root of its hierarchy caps it, so the limit in force is the
//! smallest of theirs. Reading only the root of `/sys/fs/cgroup` finds nothing in a nested cgroup
//! (a systemd unit with `MemoryMax=`, a cgroup-v1 host without cgroup namespaces, a sidecar
//! layout), and a budget sized from the machine's memory then lets large bodies kill the process.
//!
//! `/proc/self/cgroup` names the process's cgroup in each hierarchy (`0::/path` for v2,
//! `N:memory:/path` for v1's memory controller); `/proc/self/mountinfo` says where each hierarchy
//! is mounted and which of its cgroups the mount shows (its root: `/` with a cgroup namespace, the
//! container's own cgroup when only that was bound in). Both hierarchies are read where both are
//! mounted (hybrid hosts), and the smaller limit wins.

use std::path::PathBuf;

/// cgroup v1 reports "no limit" as a number near 2^63 (page-rounded `LONG_MAX`).
const UNLIMITED_V1: u64 = 1 << 60;

/// Which cgroup hierarchy a limit comes from; they name their files differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hierarchy {
    /// The unified hierarchy: `memory.max`, `max` when unlimited.
    V2,
    /// v1's memory controller: `memory.limit_in_bytes`, a huge number when unlimited.
    V1,
}

impl Hierarchy {
    fn limit_file(self) -> &'static str {
        match self {
            Self::V2 => "memory.max",
            Self::V1 => "memory.limit_in_bytes",
        }
    }

    /// A limit file's value; `None` for unlimited or unreadable.
    fn parse_limit(self, text: &str) -> Option<u64> {
        let limit: u64 = text.trim().parse().ok()?;
        (self == Self::V2 || limit < UNLIMITED_V1).then_some(limit)
    }
}

/// Where the files of a process's view of the system are: `/` on a real system, a test's own
/// directory for a faked `/proc` and `/sys`.
pub(crate) struct SystemRoot(PathBuf);

impl SystemRoot {
    /// The running system.
    pub(crate) fn live() -> Self {
        Self(PathBuf::from("/"))
    }

    #[cfg(test)]
    pub(crate) fn at(root: impl Into<PathBuf>) -> Self {
        Self(root.into())
    }

    /// `path` (absolute, as the kernel names it) inside this root.
    fn file(&self, path: &str) -> PathBuf {
        self.0.join(path.trim_start_matches('/'))
    }

    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.file(path)).ok()
    }

    /// The smallest memory limit over the process's cgroups in every mounted hierarchy, from
    /// its own cgroup up to the hierarchy's root as this mount namespace sees it; `None` when
    /// nothing limits it.
    pub(crate) fn cgroup_memory_limit(&self) -> Option<u64> {
        let memberships = self.read("/proc/self/cgroup")?;
        let mounts = self.read("/proc/self/mountinfo")?;
        let mounts: Vec<Mount> = mounts.lines().filter_map(Mount::parse).collect();
        memberships
            .lines()
            .filter_map(Membership::parse)
            .filter_map(|membership| {
                let mount = mounts
                    .iter()
                    .find(|mount| mount.hierarchy == Some(membership.hierarchy))?;
                self.smallest_limit_up_from(mount, &membership.path, membership.hierarchy)
            })
            .min()
    }

    /// Walks from the process's cgroup directory under `mount` up to the mount point, reading
    /// each level's limit.
    fn smallest_limit_up_from(
        &self,
        mount: &Mount,
        cgroup: &str,
        hierarchy: Hierarchy,
    ) -> Option<u64> {
        let mount_point = self.file(&mount.mount_point);
        // The process's cgroup relative to what the mount shows; a cgroup outside it (a
        // namespace's `/../..`) is seen only as the mount's own root.
        let relative = cgroup
            .strip_prefix(mount.root.trim_end_matches('/'))
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .filter(|rest| !rest.split('/').any(|part| part == ".."))
            .unwrap_or("");
        let mut directory = mount_point.join(relative.trim_start_matches('/'));
        let mut smallest: Option<u64> = None;
        loop {
            let limit = std::fs::read_to_string(directory.join(hierarchy.limit_file()))
                .ok()
                .and_then(|text| hierarchy.parse_limit(&text));
            smallest = match (smallest, limit) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if directory == mount_point || !directory.pop() || !directory.starts_with(&mount_point)
            {
                return smallest;
            }
        }
    }

    /// `MemTotal` from `/proc/meminfo`.
    pub(crate) fn machine_memory(&self) -> Option<u64> {
        let meminfo = self.read("/proc/meminfo")?;
        let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
}

/// A line of `/proc/self/cgroup`: the process's cgroup in one hierarchy.
struct Membership {
    hierarchy: Hierarchy,
    path: String,
}

impl Membership {
    /// `0::/path` (v2) or `N:controller,…:/path` with `memory` among the controllers (v1);
    /// other v1 hierarchies say nothing of memory.
    fn parse(line: &str) -> Option<Self> {
        let mut fields = line.splitn(3, ':');
        let id = fields.next()?;
        let controllers = fields.next()?;
        let path = fields.next()?.to_owned();
        let hierarchy = if id == "0" && controllers.is_empty() {
            Hierarchy::V2
        } else if controllers.split(',').any(|name| name == "memory") {
            Hierarchy::V1
        } else {
            return None;
        };
        Some(Self { hierarchy, path })
    }
}

/// A cgroup mount from `/proc/self/mountinfo`.
struct Mount {
    /// The cgroup the mount shows at its mount point.
    root: String,
    mount_point: String,
    /// The hierarchy mounted; `None` for any other file system or v1 controller.
    hierarchy: Option<Hierarchy>,
}

impl Mount {
    /// `id parent major:minor root mount-point options [optional…] - fstype source super-options`.
    fn parse(line: &str) -> Option<Self> {
        let (before, after) = line.split_once(" - ")?;
        let mut fields = before.split(' ');
        let root = unescape(fields.nth(3)?);
        let mount_point = unescape(fields.next()?);
        let mut after = after.split(' ');
        let hierarchy = match after.next()? {
            "cgroup2" => Some(Hierarchy::V2),
            "cgroup" => {
                let super_options = after.nth(1).unwrap_or_default();
                super_options
                    .split(',')
                    .any(|option| option == "memory")
                    .then_some(Hierarchy::V1)
            }
            _ => None,
        };
        hierarchy?;
        Some(Self {
            root,
            mount_point,
            hierarchy,
        })
    }
}

/// mountinfo writes space, tab, newline and backslash in paths as octal escapes (`\040`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes.get(i + 1..i + 4).filter(|digits| {
            bytes[i] == b'\\' && digits.iter().all(|digit| (b'0'..=b'7').contains(digit))
        });
        match escape
            .and_then(|digits| u8::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok())
        {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    /// A faked `/proc/self` and cgroup tree in a directory of its own.
    struct FakedSystem {
        root: PathBuf,
    }

    impl FakedSystem {
        fn new(cgroup: &str, mountinfo: &str) -> Self {
            let root = std::env::temp_dir().join(format!("cgroup-{}", uuid::Uuid::new_v4()));
            let system = Self { root };
            system.write("proc/self/cgroup", cgroup);
            system.write("proc/self/mountinfo", mountinfo);
            system.write("proc/meminfo", "MemTotal:       25165824 kB\n");
            system
        }

        fn write(&self, path: &str, content: &str) -> &Self {
            let path = self.root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
            self
        }

        fn limit(&self) -> Option<u64> {
            SystemRoot::at(&self.root).cgroup_memory_limit()
        }
    }

    impl Drop for FakedSystem {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    const V2_MOUNT: &str =
        "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
    const V1_MOUNTS: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
";

    #[test]
    fn a_nested_v2_cgroup_is_read_where_the_process_is_not_at_the_root() {
        let system = FakedSystem::new("0::/system.slice/agent.service\n", V2_MOUNT);
        system.write("sys/fs/cgroup/memory.max", "max\n");
        system.write("sys/fs/cgroup/system.slice/memory.max", "max\n");
        system.write(
            "sys/fs/cgroup/system.slice/agent.service/memory.max",
            "2147483648\n",
        );
        assert_eq!(system.limit(), Some(2 * GIB));
    }

    #[test]
    fn a_parent_smaller_than_the_process_own_cgroup_wins() {
        let system = FakedSystem::new("0::/pods/pod1/agent\n", V2_MOUNT);
        system.write("sys/fs/cgroup/pods/pod1/memory.max", "1073741824\n");
        system.write("sys/fs/cgroup/pods/pod1/agent/memory.max", "max\n");
        assert_eq!(system.limit(), Some(GIB));
    }

    #[test]
    fn v1_without_a_cgroup_namespace_reads_the_process_own_cgroup() {
        let system = FakedSystem::new("9:cpu:/\n4:memory:/process_api/b13aac97\n0::/\n", V1_MOUNTS);
        system.write(
            "sys/fs/cgroup/memory/memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        system.write(
            "sys/fs/cgroup/memory/process_api/memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        system.write(
            "sys/fs/cgroup/memory/process_api/b13aac97/memory.limit_in_bytes",
            "2147483648\n",
        );
        assert_eq!(system.limit(), Some(2 * GIB));
    }

    #[test]
    fn a_v1_mount_of_the_own_cgroup_is_read_at_its_mount_point() {
        // Docker without a cgroup namespace binds the container's cgroup as the mount's root.
        let system = FakedSystem::new(
            "4:memory:/docker/abc\n",
            "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n",
        );
        system.write("sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912\n");
        assert_eq!(system.limit(), Some(GIB / 2));
    }

    #[test]
    fn a_hybrid_host_takes_the_smaller_of_both_hierarchies() {
        let mounts =
            format!("{V1_MOUNTS}41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
        let system = FakedSystem::new("4:memory:/a\n0::/a\n", &mounts);
        system.write(
            "sys/fs/cgroup/memory/a/memory.limit_in_bytes",
            "3221225472\n",
        );
        system.write("sys/fs/cgroup/unified/a/memory.max", "2147483648\n");
        assert_eq!(system.limit(), Some(2 * GIB));
    }

    #[test]
    fn unlimited_or_absent_limits_are_none_and_the_machine_memory_is_read() {
        let system = FakedSystem::new("0::/a/b\n", V2_MOUNT);
        system.write("sys/fs/cgroup/a/b/memory.max", "max\n");
        assert_eq!(system.limit(), None);
        let absent = FakedSystem::new("0::/\n", V2_MOUNT);
        assert_eq!(absent.limit(), None);
        assert_eq!(
            SystemRoot::at(&absent.root).machine_memory(),
            Some(24 * GIB)
        );
        let no_proc = FakedSystem::new("", "");
        std::fs::remove_dir_all(no_proc.root.join("proc")).unwrap();
        assert_eq!(no_proc.limit(), None);
    }

    #[test]
    fn a_cgroup_limit_over_the_machine_memory_is_capped_at_it() {
        let system = FakedSystem::new("0::/big\n", V2_MOUNT);
        system.write("sys/fs/cgroup/big/memory.max", &(64 * GIB).to_string());
        assert_eq!(system.limit(), Some(64 * GIB));
        let root = SystemRoot::at(&system.root);
        assert_eq!(super::super::memory_limit::limit_in(&root), Some(24 * GIB));
    }

    #[test]
    fn escaped_mount_points_and_a_cgroup_outside_the_mount_are_handled() {
        // A mount point with a space, and a namespace that puts the process outside the mount.
        let system = FakedSystem::new(
            "0::/../../elsewhere\n",
            "30 23 0:26 / /sys/fs/cgroup\\040v2 rw - cgroup2 cgroup2 rw\n",
        );
        system.write("sys/fs/cgroup v2/memory.max", "1073741824\n");
        assert_eq!(system.limit(), Some(GIB));
        assert_eq!(unescape("a\\040b\\134c"), "a b\\c");
    }
}
