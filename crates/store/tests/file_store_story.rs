//! The [`FileStore`] story of `mesh402-testkit` on a local directory and on a real S3-compatible server (moto),
//! with downloads proxied and presigned, the key layout in the bucket, and the start-up check.

use mesh402_store::LocalFileStore;

#[tokio::test]
async fn a_local_directory_passes_the_file_store_story() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalFileStore::open(dir.path()).unwrap();
    mesh402_testkit::file_store_story(&store).await;
}

/// The bucket, in a build with S3.
#[cfg(feature = "s3")]
mod s3 {
    use std::time::Duration;

    use mesh402_store::{FileLocation, FileStore, ModelId, S3Downloads, S3FileStore};
    use mesh402_testkit::s3::S3Server;

    #[tokio::test]
    #[ignore = "needs moto_server: scripts/test.sh installs it and runs this with --include-ignored"]
    async fn an_s3_bucket_passes_the_file_store_story_with_proxied_and_presigned_downloads() {
        let server = S3Server::start().await;
        for downloads in [S3Downloads::Proxy, S3Downloads::Presigned(Duration::from_secs(60))] {
            let bucket = server.create_bucket().await;
            let store = S3FileStore::open(&server.settings(&bucket, downloads)).unwrap();
            mesh402_testkit::file_store_story(&store).await;
            assert_eq!(server.list_keys(&bucket).await, Vec::<String>::new(), "the story leaves the bucket empty");
        }
    }

    #[tokio::test]
    #[ignore = "needs moto_server: scripts/test.sh installs it and runs this with --include-ignored"]
    async fn models_sit_under_the_prefix_presigned_urls_carry_their_lifetime_and_a_missing_bucket_is_found() {
        let server = S3Server::start().await;
        let bucket = server.create_bucket().await;
        let store =
            S3FileStore::open(&server.settings(&bucket, S3Downloads::Presigned(Duration::from_secs(1)))).unwrap();
        let model = ModelId([0x42; 32]);
        store.put_model(&model, &[("model.glb".to_owned(), b"glTF".to_vec())]).await.unwrap();
        assert_eq!(server.list_keys(&bucket).await, [format!("models-test/models/{model}/model.glb")]);
        let Some(FileLocation::Redirect(url)) = store.locate_model_file(&model, "model.glb").await.unwrap() else {
            panic!("presigned downloads give a URL");
        };
        assert!(url.contains("X-Amz-Signature="), "the URL is signed: {url}");
        // moto does not enforce a presigned URL's lifetime (AWS does), so the test reads the lifetime off the URL.
        assert!(url.contains("X-Amz-Expires=1&") || url.ends_with("X-Amz-Expires=1"), "valid for 1 s: {url}");
        store.verify().await.unwrap();
        let mut elsewhere = server.settings(&bucket, S3Downloads::Proxy);
        elsewhere.bucket = "mesh402-no-such-bucket".to_owned();
        let missing = S3FileStore::open(&elsewhere).unwrap();
        assert!(missing.verify().await.is_err(), "a missing bucket is found out before the store is used");
    }
}
