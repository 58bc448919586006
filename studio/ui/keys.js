() => {
  // Keyboard review: A approve, R reject, S skip, E edit, U undo, J next, K previous,
  // F find similar.
  // Keys do nothing while typing in a text field; Esc leaves it, Ctrl+Enter saves an edit and leaves it.
  if (window.__sftKeys) return;
  window.__sftKeys = true;
  const keys = { a: "btn-approve", r: "btn-reject", s: "btn-skip", u: "btn-undo",
                 j: "btn-next", k: "btn-prev", f: "btn-similar" };
  const visible = (el) => el && el.offsetParent !== null;
  const button = (id) => {
    const el = document.getElementById(id);
    return el && el.tagName !== "BUTTON" ? el.querySelector("button") || el : el;
  };
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" ||
                         t.tagName === "SELECT" || t.isContentEditable);
    if (typing) {
      if (e.key === "Escape") t.blur();
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && t.closest("#review-card")) {
        e.preventDefault();
        const save = button("btn-save");
        if (visible(save)) { t.blur(); save.click(); }
      }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key.toLowerCase();
    if (key === "e") {
      const box = document.querySelector("#review-output textarea");
      if (visible(box)) { e.preventDefault(); box.focus(); }
      return;
    }
    const el = keys[key] && button(keys[key]);
    if (visible(el) && !el.disabled) { e.preventDefault(); el.click(); }
  });
}
