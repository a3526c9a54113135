//! `-region`: deliveries carry the `Upstash-Region` header the hosted service sends, in its
//! spelling (`US-EAST-1`), so multi-region receivers can be tested; without the flag, none.

use qstash_dev::clock::Clock;
use qstash_dev::config::{Config, Region};

use crate::support::*;

#[tokio::test]
async fn deliveries_carry_the_region_header_only_when_a_region_is_set() {
    let rx = Receiver::start().await;
    let config = Config {
        region: Some(Region::EuCentral1),
        ..Config::default()
    };
    let app = spawn_app_from(config, Clock::real()).await;
    app.publish_ok(&rx.url("/r"), &[], "hi").await;
    let got = rx.wait_for(1).await;
    assert_eq!(
        got[0].header("upstash-region").as_deref(),
        Some("EU-CENTRAL-1")
    );

    let plain = spawn_app().await;
    plain.publish_ok(&rx.url("/p"), &[], "hi").await;
    let got = rx.wait_for(2).await;
    assert_eq!(
        got[1].header("upstash-region"),
        None,
        "no header by default"
    );
}

#[test]
fn regions_are_read_in_any_spelling_and_sent_in_the_hosted_one() {
    for s in ["us-east-1", "US_EAST_1", " Us-East-1 "] {
        assert_eq!(Region::parse(s).map(Region::header_value), Ok("US-EAST-1"));
    }
    assert_eq!(
        Region::parse("eu_central_1").map(Region::header_value),
        Ok("EU-CENTRAL-1")
    );
    let err = Region::parse("ap-south-1").unwrap_err();
    assert!(err.contains("us-east-1 or eu-central-1"), "{err}");
}
