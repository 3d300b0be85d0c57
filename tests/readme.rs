//! The README's key table is generated from the keymap; this keeps the two in step.

#[test]
fn readme_lists_the_keys_of_the_keymap() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let table = vchat::ui::help::keys_markdown(&vchat::app::keymap::Keymap::default());
    assert!(
        readme.contains(&table),
        "README.md's key table is out of date; replace it with:\n\n{table}"
    );
}
