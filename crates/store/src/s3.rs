//! Model files and inputs in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, ...), through `object_store`.
//!
//! Keys mirror the local layout under an optional prefix: `<prefix>/models/<model id>/<file>` and
//! `<prefix>/inputs/<job id>`. Each PUT is atomic in S3, so a reader never sees half an object; the files of one
//! model are written one by one, but nothing names a model until `put_model` has returned `Ok` (the job record is
//! written after it), so an interrupted write leaves only unreachable objects, never a model with a missing file.
//!
//! Credentials come the way AWS tools take them: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//! `AWS_SESSION_TOKEN` in the environment, else the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, or
//! `~/.aws/credentials`, profile `AWS_PROFILE` or `default`), else the instance or container metadata service that
//! `object_store` asks on its own.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use object_store::ClientConfigKey;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::signer::{Method, Signer};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::{FileLocation, FileStore, JobId, ModelId, StoreError, is_valid_file_name};

/// How long a connection to the bucket may take (a stopped endpoint fails fast instead of holding a request).
const S3_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one request may take, body included (object_store's default is 30 s; a model file is a few MB).
const S3_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Retries of a failed request (object_store retries connection errors, timeouts, 5xx and throttling with
/// backoff)...
const S3_MAX_RETRIES: usize = 3;
/// ... started only within this time of the first try (object_store's default is 3 minutes): a hung or failing
/// bucket surfaces as `storage_unavailable` within about `S3_RETRY_TIMEOUT + S3_REQUEST_TIMEOUT`, not minutes later.
const S3_RETRY_TIMEOUT: Duration = Duration::from_secs(10);

/// How clients download a model kept in the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Downloads {
    /// The server reads the object and sends it: model URLs stay the server's own, the bucket can stay private
    /// and unreachable from the internet, and a URL keeps working for the whole retention period. The default.
    Proxy,
    /// The server answers with a redirect to a presigned URL valid for this long: the bytes no longer pass
    /// through the server, but the bucket's endpoint must be reachable by clients.
    Presigned(Duration),
}

/// Where the bucket is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// The bucket's name.
    pub bucket: String,
    /// A key prefix inside the bucket (no leading or trailing `/`), or empty for the bucket's root.
    pub prefix: String,
    /// The endpoint for S3-compatible servers (`http://` is allowed for one on a private network), or `None` for
    /// AWS itself.
    pub endpoint: Option<String>,
    /// The region; `None` takes `AWS_REGION` or `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// Keys given here rather than found the usual AWS ways (see the module docs), which `None` means.
    pub keys: Option<S3Keys>,
    /// How downloads are served.
    pub downloads: S3Downloads,
}

/// Why a text is not an `s3://BUCKET[/PREFIX]` URL the store can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3UrlError {
    /// It does not start with `s3://`.
    #[error("{0:?} is not an s3://BUCKET[/PREFIX] URL")]
    NotS3(String),
    /// The bucket name breaks S3's naming rules.
    #[error("{0:?} is not a valid bucket name (3 to 63 of a-z, 0-9, '.', '-')")]
    BadBucket(String),
    /// The prefix has an empty, `.` or `..` segment.
    #[error("{0:?} is not a usable key prefix")]
    BadPrefix(String),
}

impl S3Settings {
    /// Reads `s3://BUCKET` or `s3://BUCKET/PREFIX`; the other settings start at their defaults.
    pub fn from_url(url: &str) -> Result<S3Settings, S3UrlError> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| S3UrlError::NotS3(url.to_owned()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b".-".contains(&byte));
        if !bucket_ok {
            return Err(S3UrlError::BadBucket(bucket.to_owned()));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|part| part.is_empty() && !prefix.is_empty() || part == "." || part == "..") {
            return Err(S3UrlError::BadPrefix(prefix.to_owned()));
        }
        Ok(S3Settings {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            endpoint: None,
            region: None,
            keys: None,
            downloads: S3Downloads::Proxy,
        })
    }
}

/// Model files and inputs in an S3-compatible bucket. See the module docs.
#[derive(Debug)]
pub struct S3FileStore {
    bucket: AmazonS3,
    prefix: String,
    downloads: S3Downloads,
}

fn object_error(error: object_store::Error) -> StoreError {
    StoreError::ObjectStore(Box::new(error))
}

impl S3FileStore {
    /// Connects to the bucket (no request is made until the first use).
    pub fn open(settings: &S3Settings) -> Result<S3FileStore, StoreError> {
        let retry = object_store::RetryConfig {
            max_retries: S3_MAX_RETRIES,
            retry_timeout: S3_RETRY_TIMEOUT,
            ..Default::default()
        };
        // One client setting at a time (the whole `ClientOptions` would replace what `from_env` read, such as
        // AWS_PROXY_URL); object_store takes durations as text here.
        let timeout = |key, duration: Duration| (AmazonS3ConfigKey::Client(key), format!("{}s", duration.as_secs()));
        let mut builder = AmazonS3Builder::from_env().with_retry(retry).with_bucket_name(&settings.bucket);
        for (key, value) in [
            timeout(ClientConfigKey::ConnectTimeout, S3_CONNECT_TIMEOUT),
            timeout(ClientConfigKey::Timeout, S3_REQUEST_TIMEOUT),
        ] {
            builder = builder.with_config(key, value);
        }
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(region) = &settings.region {
            builder = builder.with_region(region);
        } else if std::env::var_os("AWS_REGION").is_none()
            && let Ok(region) = std::env::var("AWS_DEFAULT_REGION")
        {
            builder = builder.with_region(region);
        }
        let keys = match &settings.keys {
            Some(keys) => Some(keys.clone()),
            None if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() => shared_credentials()?,
            None => None,
        };
        if let Some(keys) = keys {
            builder = builder.with_access_key_id(keys.access_key_id).with_secret_access_key(keys.secret_access_key);
            if let Some(token) = keys.session_token {
                builder = builder.with_token(token);
            }
        }
        let bucket = builder.build().map_err(object_error)?;
        Ok(S3FileStore { bucket, prefix: settings.prefix.clone(), downloads: settings.downloads })
    }

    /// Checks that the bucket exists and the keys may list it: start-up calls this, because a missing bucket
    /// would otherwise look like a store with nothing in it.
    pub async fn verify(&self) -> Result<(), StoreError> {
        self.bucket.list_with_delimiter(Some(&self.inputs_prefix())).await.map_err(object_error)?;
        Ok(())
    }

    fn key(&self, relative: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(relative)
        } else {
            ObjectPath::from(format!("{}/{relative}", self.prefix))
        }
    }

    // Ids are hex by their type and names are checked, so keys never leave their folder.
    fn model_key(&self, model_id: &ModelId, name: &str) -> ObjectPath {
        self.key(&format!("models/{model_id}/{name}"))
    }

    fn input_key(&self, job_id: &JobId) -> ObjectPath {
        self.key(&format!("inputs/{job_id}"))
    }

    fn inputs_prefix(&self) -> ObjectPath {
        self.key("inputs")
    }
}

#[async_trait]
impl FileStore for S3FileStore {
    async fn put_model(&self, model_id: &ModelId, files: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if files.iter().any(|(name, _)| !is_valid_file_name(name)) {
            return Err(StoreError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad file name")));
        }
        for (name, bytes) in files {
            let payload = PutPayload::from(bytes.clone());
            self.bucket.put(&self.model_key(model_id, name), payload).await.map_err(object_error)?;
        }
        Ok(())
    }

    async fn locate_model_file(&self, model_id: &ModelId, name: &str) -> Result<Option<FileLocation>, StoreError> {
        if !is_valid_file_name(name) {
            return Ok(None);
        }
        let key = self.model_key(model_id, name);
        match self.downloads {
            S3Downloads::Proxy => match self.bucket.get(&key).await {
                Ok(found) => {
                    let length = found.meta.size;
                    let bytes = found.into_stream().map_err(object_error).boxed();
                    Ok(Some(FileLocation::Streamed { length, bytes }))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(error) => Err(object_error(error)),
            },
            S3Downloads::Presigned(valid_for) => {
                // A redirect to a missing object would turn our 404 into the bucket's XML error.
                match self.bucket.head(&key).await {
                    Ok(_) => {}
                    Err(object_store::Error::NotFound { .. }) => return Ok(None),
                    Err(error) => return Err(object_error(error)),
                }
                let url = self.bucket.signed_url(Method::GET, &key, valid_for).await.map_err(object_error)?;
                Ok(Some(FileLocation::Redirect(url.to_string())))
            }
        }
    }

    async fn delete_model(&self, model_id: &ModelId) -> Result<(), StoreError> {
        let prefix = self.key(&format!("models/{model_id}"));
        let keys: Vec<ObjectPath> =
            self.bucket.list(Some(&prefix)).map_ok(|meta| meta.location).try_collect().await.map_err(object_error)?;
        for key in keys {
            match self.bucket.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(object_error(error)),
            }
        }
        Ok(())
    }

    async fn put_input(&self, job_id: &JobId, bytes: &[u8]) -> Result<(), StoreError> {
        let payload = PutPayload::from(bytes.to_vec());
        self.bucket.put(&self.input_key(job_id), payload).await.map_err(object_error)?;
        Ok(())
    }

    async fn input(&self, job_id: &JobId) -> Result<Option<Vec<u8>>, StoreError> {
        match self.bucket.get(&self.input_key(job_id)).await {
            Ok(found) => Ok(Some(found.bytes().await.map_err(object_error)?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(object_error(error)),
        }
    }

    async fn delete_input(&self, job_id: &JobId) -> Result<(), StoreError> {
        match self.bucket.delete(&self.input_key(job_id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(object_error(error)),
        }
    }

    async fn list_inputs(&self) -> Result<Vec<(JobId, u64)>, StoreError> {
        let prefix = self.inputs_prefix();
        let objects: Vec<_> = self.bucket.list(Some(&prefix)).try_collect().await.map_err(object_error)?;
        let mut inputs: Vec<(JobId, u64)> = objects
            .into_iter()
            .filter_map(|meta| {
                let job_id = meta.location.filename()?.parse().ok()?;
                Some((job_id, u64::try_from(meta.last_modified.timestamp()).unwrap_or(0)))
            })
            .collect();
        inputs.sort_by_key(|(job_id, _)| *job_id);
        Ok(inputs)
    }

    async fn list_models(&self) -> Result<Vec<(ModelId, u64)>, StoreError> {
        let prefix = self.key("models");
        let objects: Vec<_> = self.bucket.list(Some(&prefix)).try_collect().await.map_err(object_error)?;
        // `<prefix>/models/<model id>/<file>`: a model is written when its newest file is.
        let mut models: std::collections::BTreeMap<ModelId, u64> = std::collections::BTreeMap::new();
        for meta in objects {
            let parts: Vec<_> = meta.location.parts().collect();
            let Some(model_id) = parts.len().checked_sub(2).and_then(|at| parts[at].as_ref().parse().ok()) else {
                continue;
            };
            let written_at = u64::try_from(meta.last_modified.timestamp()).unwrap_or(0);
            let newest = models.entry(model_id).or_insert(written_at);
            *newest = (*newest).max(written_at);
        }
        Ok(models.into_iter().collect())
    }
}

/// An access key pair, and the session token of temporary credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Keys {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token, for temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The access key id names the key; the secret and the token stay out of logs.
        f.debug_struct("S3Keys").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// The profile's keys from the shared credentials file, if the file exists and has them.
fn shared_credentials() -> Result<Option<S3Keys>, StoreError> {
    let path = match std::env::var_os("AWS_SHARED_CREDENTIALS_FILE") {
        Some(path) => std::path::PathBuf::from(path),
        None => match std::env::var_os("HOME") {
            Some(home) => std::path::Path::new(&home).join(".aws").join("credentials"),
            None => return Ok(None),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(StoreError::Io(error)),
    };
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".to_owned());
    Ok(parse_shared_credentials(&text, &profile))
}

/// Reads one profile of the shared credentials file, an INI file of `[profile]` sections and `key = value`
/// lines. Written here because the only crates that read it are the AWS SDK's own (`aws-config`, far larger than
/// everything else this store needs) and `object_store` left profile files out.
fn parse_shared_credentials(text: &str, profile: &str) -> Option<S3Keys> {
    let mut in_profile = false;
    let (mut access_key_id, mut secret_access_key, mut session_token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            in_profile = section.trim() == profile;
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        if !in_profile {
            continue;
        }
        let value = value.trim().to_owned();
        match key.trim() {
            "aws_access_key_id" => access_key_id = Some(value),
            "aws_secret_access_key" => secret_access_key = Some(value),
            "aws_session_token" => session_token = Some(value),
            _ => {}
        }
    }
    Some(S3Keys { access_key_id: access_key_id?, secret_access_key: secret_access_key?, session_token })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_urls_are_read_strictly() {
        let plain = S3Settings::from_url("s3://models-bucket").unwrap();
        assert_eq!((plain.bucket.as_str(), plain.prefix.as_str()), ("models-bucket", ""));
        let prefixed = S3Settings::from_url("s3://models-bucket/mesh402/eu/").unwrap();
        assert_eq!(prefixed.prefix, "mesh402/eu");
        assert_eq!(prefixed.downloads, S3Downloads::Proxy);
        let not_s3 = |url: &str| S3UrlError::NotS3(url.to_owned());
        let bucket = |name: &str| S3UrlError::BadBucket(name.to_owned());
        let prefix = |prefix: &str| S3UrlError::BadPrefix(prefix.to_owned());
        for (bad, why) in [
            ("models-bucket", not_s3("models-bucket")),
            ("s3://", bucket("")),
            ("s3://ab", bucket("ab")),
            ("s3://Upper", bucket("Upper")),
            ("s3://b_b_b", bucket("b_b_b")),
            ("s3://bucket/a/../b", prefix("a/../b")),
            ("s3://bucket/a//b", prefix("a//b")),
        ] {
            assert_eq!(S3Settings::from_url(bad).err(), Some(why), "{bad}");
        }
    }

    #[test]
    fn the_shared_credentials_file_gives_the_chosen_profile() {
        let text = "# keys\n[default]\naws_access_key_id = AKIDEFAULT\naws_secret_access_key=secret-default\n\n\
                    [ci]\naws_access_key_id = AKICI\naws_secret_access_key = secret-ci\naws_session_token = token-ci\n";
        let default = parse_shared_credentials(text, "default").unwrap();
        assert_eq!(
            (default.access_key_id.as_str(), default.secret_access_key.as_str()),
            ("AKIDEFAULT", "secret-default")
        );
        assert_eq!(default.session_token, None);
        let ci = parse_shared_credentials(text, "ci").unwrap();
        assert_eq!(ci.session_token.as_deref(), Some("token-ci"));
        assert!(parse_shared_credentials(text, "other").is_none());
        assert!(parse_shared_credentials("[default]\naws_access_key_id = only-half\n", "default").is_none());
    }
}
