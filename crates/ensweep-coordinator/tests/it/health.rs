//! The gRPC health service on a real loopback server: SERVING while the event loop lives,
//! NOT_SERVING once it has stopped (what a Kubernetes liveness probe relies on).

use ensweep_coordinator::Coordinator;

use crate::common;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

fn request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_event_loop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = Coordinator::start(common::config(dir.path())).expect("coordinator starts");
    let server = common::serve(coordinator.handle(), Default::default()).await;
    let addr = server.addr;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut client = HealthClient::new(channel);
    for service in ["", "ensweep.v1.Coordinator"] {
        let status = client
            .check(request(service))
            .await
            .expect("check")
            .into_inner();
        assert_eq!(
            status.status(),
            ServingStatus::Serving,
            "service {service:?}"
        );
    }

    // The watch stream sends the current status, then every change: no polling, no sleeps.
    let mut watch = client.watch(request("")).await.expect("watch").into_inner();
    let first = watch
        .message()
        .await
        .expect("stream")
        .expect("first status");
    assert_eq!(first.status(), ServingStatus::Serving);
    tokio::task::spawn_blocking(move || coordinator.shutdown())
        .await
        .expect("shutdown");
    let next = watch.message().await.expect("stream").expect("a change");
    assert_eq!(next.status(), ServingStatus::NotServing);
    let status = client
        .check(request("ensweep.v1.Coordinator"))
        .await
        .expect("check")
        .into_inner();
    assert_eq!(status.status(), ServingStatus::NotServing);

    // Graceful shutdown waits for open streams: close ours first.
    drop((watch, client));
    server.stop().await;
}
