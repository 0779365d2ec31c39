import { useState, type KeyboardEvent } from "react";

type TagInputProps = {
  id: string;
  tags: string[];
  onChange: (tags: string[]) => void;
  placeholder?: string;
  "aria-describedby"?: string;
  "aria-invalid"?: boolean;
};

/** Free-text chips: Enter or comma adds the typed tag, Backspace on an empty box removes the last one. */
export function TagInput({
  id,
  tags,
  onChange,
  placeholder,
  "aria-describedby": describedBy,
  "aria-invalid": invalid,
}: TagInputProps) {
  const [draft, setDraft] = useState("");

  function commit() {
    const tag = draft.trim().toLowerCase();
    if (tag && !tags.includes(tag)) onChange([...tags, tag]);
    setDraft("");
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === "Enter" || event.key === ",") {
      event.preventDefault();
      commit();
    } else if (event.key === "Backspace" && !draft && tags.length) {
      onChange(tags.slice(0, -1));
    }
  }

  return (
    <div className={`tag-input${invalid ? " invalid" : ""}`}>
      {tags.map((tag) => (
        <span key={tag} className="chip">
          {tag}
          <button type="button" aria-label={`Remove tag ${tag}`} onClick={() => onChange(tags.filter((t) => t !== tag))}>
            ×
          </button>
        </span>
      ))}
      <input
        id={id}
        value={draft}
        placeholder={tags.length ? "" : placeholder}
        aria-describedby={describedBy}
        aria-invalid={invalid || undefined}
        onChange={(event) => setDraft(event.target.value)}
        onKeyDown={onKeyDown}
        onBlur={commit}
      />
    </div>
  );
}
