//! The story every [`FileStore`] must pass: models stored whole and found by safe names only, several files per
//! model, inputs round-tripping and listed in id order, deletes of absent things being no errors.

use mesh402_store::{FileLocation, FileStore, JobId, ModelId};

/// Reads a located file the way the server serves it: from disk, from the bytes fetched, or from the URL a client
/// is redirected to.
pub async fn read_location(location: FileLocation) -> Vec<u8> {
    match location {
        FileLocation::Local(path) => std::fs::read(path).expect("a located file reads"),
        FileLocation::Streamed { length, bytes } => {
            use futures_util::TryStreamExt;
            let chunks: Vec<_> = bytes.try_collect().await.expect("the streamed file reads");
            let read: Vec<u8> = chunks.concat();
            assert_eq!(read.len() as u64, length, "the stream has the announced length");
            read
        }
        FileLocation::Redirect(url) => {
            let response = reqwest::get(&url).await.expect("the redirect URL answers");
            assert!(response.status().is_success(), "GET {url}: {}", response.status());
            response.bytes().await.unwrap().to_vec()
        }
        other => panic!("a location this story does not know: {other:?}"),
    }
}

/// Runs the story against `store`, which must be empty.
pub async fn file_store_story(store: &dyn FileStore) {
    let model = ModelId([0x5a; 32]);
    let other_model = ModelId([0x5b; 32]);
    let files = vec![
        ("model.obj".to_owned(), b"o mesh\n".to_vec()),
        ("model.mtl".to_owned(), b"newmtl skin\n".to_vec()),
        ("texture.png".to_owned(), vec![0x89, b'P', b'N', b'G', 0, 255]),
    ];
    store.put_model(&model, &files).await.unwrap();
    store.put_model(&other_model, &[("model.glb".to_owned(), b"glTF".to_vec())]).await.unwrap();
    for (name, bytes) in &files {
        let location = store.locate_model_file(&model, name).await.unwrap().expect("a stored file is found");
        assert_eq!(&read_location(location).await, bytes, "{name} reads back as written");
    }
    for absent in ["model.glb", "../models", ".hidden", "a/b", ""] {
        assert!(store.locate_model_file(&model, absent).await.unwrap().is_none(), "{absent:?} is not found");
    }
    assert!(store.put_model(&model, &[("../x".to_owned(), vec![])]).await.is_err(), "unsafe names are refused");
    let models = store.list_models().await.unwrap();
    assert_eq!(models.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [model, other_model], "listed in id order");
    assert!(models.iter().all(|(_, written)| *written > 1_700_000_000), "with when each was written");

    store.delete_model(&model).await.unwrap();
    for (name, _) in &files {
        assert!(store.locate_model_file(&model, name).await.unwrap().is_none(), "{name} is gone with its model");
    }
    let kept = store.locate_model_file(&other_model, "model.glb").await.unwrap().expect("the other model stays");
    assert_eq!(read_location(kept).await, b"glTF");
    store.delete_model(&model).await.unwrap();
    assert_eq!(store.list_models().await.unwrap().iter().map(|(id, _)| *id).collect::<Vec<_>>(), [other_model]);

    let (first, second) = (JobId([0x01; 16]), JobId([0x02; 16]));
    assert_eq!(store.input(&first).await.unwrap(), None);
    store.put_input(&second, b"second input").await.unwrap();
    store.put_input(&first, b"first input").await.unwrap();
    assert_eq!(store.input(&first).await.unwrap().as_deref(), Some(&b"first input"[..]));
    let listed = store.list_inputs().await.unwrap();
    assert_eq!(listed.iter().map(|(job, _)| *job).collect::<Vec<_>>(), [first, second], "listed in id order");
    assert!(listed.iter().all(|(_, written)| *written > 1_700_000_000), "with when each was written");
    store.delete_input(&first).await.unwrap();
    store.delete_input(&first).await.unwrap();
    assert_eq!(store.input(&first).await.unwrap(), None);
    assert_eq!(store.list_inputs().await.unwrap().len(), 1);
    store.delete_input(&second).await.unwrap();
    store.delete_model(&other_model).await.unwrap();
}
