//! Pod coordinates from the kubelet's log file paths, which node agents put in the Kafka message key.
//!
//! - `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log`
//! - `/var/log/containers/<pod>_<namespace>_<container>-<container-id>.log`

/// Namespace, pod and container named by a kubelet log path (borrowed from it: ingest parses the key
/// of every line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PodLogPath<'a> {
    pub namespace: &'a str,
    pub pod: &'a str,
    pub container: &'a str,
}

/// Parses a kubelet log path; `None` for anything else.
#[must_use]
pub(crate) fn parse(path: &str) -> Option<PodLogPath<'_>> {
    if let Some(rest) = between_first_two(path, "/var/log/pods/") {
        let mut segments = rest.split('/');
        let dir = segments.next()?;
        let container = segments.next()?;
        let mut fields = dir.splitn(3, '_');
        let (namespace, pod) = (fields.next()?, fields.next()?);
        fields.next()?;
        return Some(PodLogPath {
            namespace,
            pod,
            container,
        });
    }
    let file = between_first_two(path, "/var/log/containers/")?.strip_suffix(".log")?;
    let mut fields = file.splitn(3, '_');
    let (pod, namespace, rest) = (fields.next()?, fields.next()?, fields.next()?);
    let (container, id) = rest.rsplit_once('-')?;
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(PodLogPath {
        namespace,
        pod,
        container,
    })
}

/// What `text.split(needle).nth(1)` gives — the text after `needle`'s first occurrence, up to its next
/// one or the end — for a `needle` that starts with `/`. Found by trying each `/` of `text` (a byte scan)
/// rather than with a substring searcher: ingest parses every line's key, and setting up a searcher for
/// each of the two prefixes cost more than the searches (about 7 600 instructions a line, callgrind).
fn between_first_two<'a>(text: &'a str, needle: &str) -> Option<&'a str> {
    let find = |text: &str| {
        text.match_indices('/')
            .map(|(at, _)| at)
            .find(|&at| text[at..].starts_with(needle))
    };
    let rest = &text[find(text)? + needle.len()..];
    Some(find(rest).map_or(rest, |end| &rest[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kubelet_layouts() {
        let pods = parse("/var/log/pods/shop_checkout-7d9c7f5b9d-x2x7q_0a1b/app/3.log")
            .expect("pods layout");
        assert_eq!(
            (pods.namespace, pods.pod, pods.container),
            ("shop", "checkout-7d9c7f5b9d-x2x7q", "app")
        );
        let id = "a".repeat(64);
        let path = format!("/var/log/containers/web-0_default_nginx-sidecar-{id}.log");
        let containers = parse(&path).expect("containers layout");
        assert_eq!(
            (containers.namespace, containers.pod, containers.container),
            ("default", "web-0", "nginx-sidecar")
        );
        assert_eq!(parse("/var/log/syslog"), None);
        assert_eq!(parse("/var/log/containers/short_ns_c-123.log"), None);
    }

    #[test]
    fn the_prefix_is_found_as_split_finds_it() {
        let needle = "/var/log/pods/";
        for text in [
            "/var/log/pods/a_b_c/app/0.log",
            "node-1:/var/log/pods/a_b_c/app/0.log",
            "/var/log/pods/a/var/log/pods/b",
            "/var/log/pods//var/log/pods/",
            "/var/log/pods",
            "//var/log/pods/é/x",
            "/var/log/containers/x.log",
            "",
        ] {
            assert_eq!(
                between_first_two(text, needle),
                text.split(needle).nth(1),
                "{text:?}"
            );
        }
    }
}
