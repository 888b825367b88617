//! Image references checked as the kubelet checks them before it pulls anything: with the
//! grammar of `github.com/distribution/reference` (`ParseNormalizedNamed`, then go-digest's
//! validation of a `@digest`), so that an image the kubelet refuses (`alpine:ops!`) is
//! refused here too with the kubelet's waiting reason `InvalidImageName` and its message —
//! whatever runs the container (an explicit `command` or weir's image map).
//!
//! The grammar (distribution/reference `reference.go`):
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain '/'] remote-name
//! domain           := host [':' port-number]
//! host             := domain-name | '[' IPv6address ']'
//! domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//! remote-name      := path-component ['/' path-component]*
//! path-component   := /[a-z0-9]+/ [separator /[a-z0-9]+/]*
//! separator        := /[_.]|__|[-]+/
//! tag              := /[\w][\w.-]{0,127}/
//! digest           := algorithm ":" /[0-9a-fA-F]{32,}/
//! ```
//!
//! No crate was a fit: `oci-spec`'s `distribution::Reference` carries the whole OCI runtime and
//! image model (and its derive macros) for this one function; the regular expressions below
//! are distribution/reference's own, and the tests are its test vectors.

use std::sync::LazyLock;

use regex::Regex;

/// The kubelet's waiting reason for an image reference that does not parse.
pub(crate) const INVALID_IMAGE_NAME: &str = "InvalidImageName";

/// distribution/reference's `ReferenceRegexp`: name (1), tag (2), digest (3), anchored.
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    let alphanumeric = "[a-z0-9]+";
    let separator = "(?:[._]|__|[-]+)";
    let path_component = format!("{alphanumeric}(?:{separator}{alphanumeric})*");
    let domain_component = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    let domain_name = format!(r"{domain_component}(?:\.{domain_component})*");
    let ipv6 = r"\[(?:[a-fA-F0-9:]+)\]";
    let domain = format!("(?:{domain_name}|{ipv6})(?::[0-9]+)?");
    let name = format!("(?:{domain}/)?{path_component}(?:/{path_component})*");
    let tag = "[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";
    let digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}";
    let pattern = format!("^({name})(?::({tag}))?(?:@({digest}))?$");
    Regex::new(&pattern).unwrap_or_else(|e| unreachable!("the reference grammar compiles: {e}"))
});

/// distribution/reference's `anchoredIdentifierRegexp`: an image ID, not a name.
static IDENTIFIER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[a-f0-9]{64}$").unwrap_or_else(|e| unreachable!("compiles: {e}"))
});

/// The longest repository name distribution/reference accepts (`NameTotalLengthMax`).
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Checks `image` as the kubelet does before pulling; the error is the kubelet's message for
/// the container's `InvalidImageName` waiting state.
pub(crate) fn validate(image: &str) -> Result<(), String> {
    parse_normalized_named(image).map_err(|cause| {
        format!(
            "Failed to apply default image tag {image:?}: couldn't parse image name {image:?}: \
             {cause}"
        )
    })
}

/// distribution/reference's `ParseNormalizedNamed` (Docker Hub's `docker.io/library/`
/// defaults applied before parsing), reduced to whether it succeeds and its error text.
fn parse_normalized_named(s: &str) -> Result<(), String> {
    if IDENTIFIER.is_match(s) {
        return Err(format!(
            "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        ));
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote_name = remainder.split_once(':').map_or(remainder.as_str(), |(name, _)| name);
    if remote_name.to_lowercase() != remote_name {
        return Err(format!(
            "invalid reference format: repository name ({remote_name}) must be lowercase"
        ));
    }
    parse(&format!("{domain}/{remainder}"))
}

/// distribution/reference's `splitDockerDomain`: the first component is a registry only if it
/// has a `.` or `:`, is `localhost`, or has upper-case letters; otherwise Docker Hub, where a
/// one-component name gets `library/`.
fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, remainder) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => ("docker.io".to_owned(), name.to_owned()),
    };
    if domain == "index.docker.io" {
        "docker.io".clone_into(&mut domain);
    }
    let remainder = if domain == "docker.io" && !remainder.contains('/') {
        format!("library/{remainder}")
    } else {
        remainder
    };
    (domain, remainder)
}

/// distribution/reference's `Parse`, with go-digest's validation of the digest.
fn parse(s: &str) -> Result<(), String> {
    let Some(captures) = REFERENCE.captures(s) else {
        if s.is_empty() {
            return Err("repository name must have at least one component".into());
        }
        if REFERENCE.is_match(&s.to_lowercase()) {
            return Err("invalid reference format: repository name must be lowercase".into());
        }
        return Err("invalid reference format".into());
    };
    let name = captures.get(1).map_or("", |m| m.as_str());
    if name.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(format!(
            "repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        ));
    }
    match captures.get(3) {
        Some(digest) => validate_digest(digest.as_str()),
        None => Ok(()),
    }
}

/// go-digest's `Digest.Validate` for the algorithms the kubelet links (sha256, sha384,
/// sha512): a known algorithm and exactly its length of lower-case hex.
fn validate_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return Err("invalid checksum digest format".into());
    };
    let hex_len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err("unsupported digest algorithm".into()),
    };
    if encoded.len() != hex_len {
        return Err("invalid checksum digest length".into());
    }
    if !encoded.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err("invalid checksum digest format".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    /// Valid references: distribution/reference's `TestReferenceParse` and
    /// `TestParseNormalizedNamed` success vectors, plus the images weir's own tests use.
    #[test]
    fn references_the_kubelet_accepts() {
        let digest = format!("sha256:{SHA}");
        let valid = [
            "test_com".to_owned(),
            "test.com:tag".to_owned(),
            "test.com:5000".to_owned(),
            "test.com/repo:tag".to_owned(),
            "test:5000/repo".to_owned(),
            "test:5000/repo:tag".to_owned(),
            format!("test:5000/repo@{digest}"),
            format!("test:5000/repo:tag@{digest}"),
            "lowercase:Uppercase".to_owned(),
            "sub-dom1.foo.com/bar/baz/quux".to_owned(),
            "sub-dom1.foo.com/bar/baz/quux:some-long-tag".to_owned(),
            "b.gcr.io/test.example.com/my-app:test.example.com".to_owned(),
            "xn--n3h.com/myimage:xn--n3h.com".to_owned(),
            format!("xn--7o8h.com/myimage:xn--7o8h.com@sha512:{}", "f".repeat(128)),
            "foo_bar.com:8080".to_owned(),
            "foo/foo_bar.com:8080".to_owned(),
            "[2001:db8::1]:5000/repo".to_owned(),
            "192.168.1.1:5000/a__b/c-d---e/f.g".to_owned(),
            "localhost/repo".to_owned(),
            "Uppercase.com/repo".to_owned(),
            "docker.io/istio/examples-bookinfo-reviews-v2:1.16.4".to_owned(),
            "busybox".to_owned(),
            "nginx:1.27".to_owned(),
            format!("a/{}", "b".repeat(200)),
        ];
        for image in &valid {
            assert_eq!(validate(image), Ok(()), "{image}");
        }
    }

    /// Invalid references, each with distribution/reference's error (`TestReferenceParse`,
    /// `TestParseNormalizedNamed`) as the kubelet reports it.
    #[test]
    fn references_the_kubelet_refuses_with_its_message() {
        let long_tag = "a".repeat(129);
        let long_name = format!("a/{}", "a".repeat(254));
        let cases: Vec<(String, &str)> = vec![
            ("alpine:ops!".into(), "invalid reference format"),
            ("".into(), "invalid reference format"),
            (":justtag".into(), "invalid reference format"),
            (format!("@sha256:{SHA}"), "invalid reference format"),
            (
                "repo@sha256:ffffffffffffffffffffffffffffffffff".into(),
                "invalid checksum digest length",
            ),
            (format!("validname@invaliddigest:{SHA}"), "unsupported digest algorithm"),
            // Go splits the tag off at the first ':': an upper-case algorithm is an upper-case
            // name.
            (
                format!("validname@SHA256:{SHA}"),
                "repository name (library/validname@SHA256) must be lowercase",
            ),
            (format!("repo@sha256:{}", SHA.to_uppercase()), "invalid checksum digest format"),
            (format!("test:5000/repo:{long_tag}"), "invalid reference format"),
            ("aa/asdf$$^/aa".into(), "invalid reference format"),
            ("a:/b".into(), "invalid reference format"),
            ("foo/bar/".into(), "invalid reference format"),
            ("-foo/bar".into(), "invalid reference format"),
            ("foo//bar".into(), "invalid reference format"),
            (
                "test:5000/Uppercase/lowercase:tag".into(),
                "invalid reference format: repository name (Uppercase/lowercase) must be lowercase",
            ),
            (
                "Uppercase:tag".into(),
                "invalid reference format: repository name (library/Uppercase) must be lowercase",
            ),
            (SHA.into(), "cannot specify 64-byte hexadecimal strings"),
            (long_name, "repository name must not be more than 255 characters"),
        ];
        for (image, cause) in &cases {
            let err = validate(image).expect_err(image);
            assert!(
                err.starts_with(&format!("Failed to apply default image tag {image:?}: couldn't parse image name {image:?}: ")),
                "{err}"
            );
            assert!(err.contains(cause), "{image}: {err} does not say {cause}");
        }
        assert_eq!(
            validate("alpine:ops!").unwrap_err(),
            "Failed to apply default image tag \"alpine:ops!\": couldn't parse image name \
             \"alpine:ops!\": invalid reference format"
        );
    }
}
