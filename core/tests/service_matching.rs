//! Which Services are ours: type, `kube-vip.io/ignore`, and kube-vip's `loadBalancerClass`
//! table for every combination of `lb_class_legacy_handling`, `lb_class_only` and a set,
//! foreign or missing class.

mod service_support;

use kvip_core::service::matching::{classify, is_ours, ClassRules, NotOurs};
use kvip_core::service::model::{ANNOTATION_IGNORE, DEFAULT_LB_CLASS};
use service_support::lb;

fn with_class(class: Option<&str>) -> kvip_core::service::ServiceView {
    let mut v = lb("default", "a");
    v.load_balancer_class = class.map(str::to_owned);
    v
}

fn rules(name: &str, class_only: bool, legacy: bool) -> ClassRules {
    ClassRules {
        class_name: name.to_owned(),
        class_only,
        legacy,
    }
}

#[test]
fn defaults_take_no_class_and_the_kube_vip_class() {
    let r = ClassRules::default();
    assert_eq!(r, rules(DEFAULT_LB_CLASS, false, true));
    assert!(is_ours(&with_class(None), &r));
    assert!(is_ours(&with_class(Some(DEFAULT_LB_CLASS)), &r));
    assert_eq!(
        classify(&with_class(Some("metallb.io/metallb")), &r),
        Err(NotOurs::OtherClass("metallb.io/metallb".into()))
    );
}

#[test]
fn the_class_table() {
    let mine = "example.com/mine";
    // (legacy, class_only, class_name, service class, ours)
    let table: [(bool, bool, &str, Option<&str>, bool); 14] = [
        (true, false, mine, None, true),
        (true, false, mine, Some(mine), true),
        (true, false, mine, Some(DEFAULT_LB_CLASS), false),
        (true, true, mine, None, false),
        (true, true, mine, Some(mine), true),
        (true, true, mine, Some("other"), false),
        (false, false, mine, None, false),
        (false, false, mine, Some(mine), true),
        (false, false, mine, Some("other"), false),
        (false, true, mine, None, false),
        (false, true, mine, Some(mine), true),
        (false, false, "", None, true),
        (false, false, "", Some("other"), false),
        (true, false, "", Some(""), true),
    ];
    for (legacy, class_only, name, class, ours) in table {
        let r = rules(name, class_only, legacy);
        assert_eq!(
            is_ours(&with_class(class), &r),
            ours,
            "legacy={legacy} class_only={class_only} lb_class_name={name:?} class={class:?}"
        );
    }
    assert_eq!(
        classify(&with_class(None), &rules(mine, true, true)),
        Err(NotOurs::ClassRequired)
    );
}

#[test]
fn type_and_ignore_come_first() {
    let mut v = with_class(None);
    v.is_load_balancer = false;
    assert_eq!(
        classify(&v, &ClassRules::default()),
        Err(NotOurs::NotLoadBalancer)
    );
    let mut v = with_class(None);
    v.annotations
        .insert(ANNOTATION_IGNORE.into(), "true".into());
    assert_eq!(classify(&v, &ClassRules::default()), Err(NotOurs::Ignored));
    // Only exactly "true" ignores, as in kube-vip.
    v.annotations.insert(ANNOTATION_IGNORE.into(), "yes".into());
    assert!(is_ours(&v, &ClassRules::default()));
}
