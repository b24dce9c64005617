//! Media types and annotation keys, as exact strings.
//!
//! The eBPF ones come from the eBPF Image specification (bumblebee, "v0.0.0");
//! the rest from the OCI image specification.

/// Media type of an OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of a Docker schema 2 manifest (read, never written).
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Media type of a Docker manifest list (read, never written).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Media type of an ordinary OCI image config (used by bpfman images).
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of the empty descriptor (`{}`), used by artifacts.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// Config media type of an eBPF image (bumblebee spec).
pub const EBPF_CONFIG: &str = "application/ebpf.oci.image.config.v1+json";
/// Program layer media type of an eBPF image: the raw ELF object, uncompressed.
pub const EBPF_PROGRAM: &str = "application/ebpf.oci.image.program.v1+binary";
/// Program layer media type of an Inspektor Gadget image.
pub const GADGET_PROGRAM: &str = "application/vnd.gadget.ebpf.program.v1+binary";

/// Annotation carrying a descriptor's title (file name).
pub const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";
/// Annotation carrying an image's name in index.json.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation carrying the creation time (written only when `SOURCE_DATE_EPOCH` is set).
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// Title of the config layer of an eBPF image.
pub const EBPF_CONFIG_TITLE: &str = "config.json";
/// Title of the program layer of an eBPF image.
pub const EBPF_PROGRAM_TITLE: &str = "program.o";

/// Contents of the `oci-layout` file we write, byte for byte.
pub const OCI_LAYOUT_FILE_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// The image layout version we write and accept.
pub const IMAGE_LAYOUT_VERSION: &str = "1.0.0";
