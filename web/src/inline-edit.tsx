import { TextInput } from '@mantine/core';
import { useEffect, useState } from 'react';

/** A field edited where it is shown: saved on Enter or when focus leaves, restored on Escape. */
export function InlineText({ label, value, disabled, onSave, type = 'text' }: {
  label: string; value: string | null; disabled: boolean; onSave: (value: string) => void; type?: 'text' | 'number' | 'date' | 'email' | 'url' | 'tel';
}) {
  const [draft, setDraft] = useState(value ?? '');
  useEffect(() => setDraft(value ?? ''), [value]);
  const save = () => {
    const next = draft.trim();
    if (next && next !== (value ?? '')) onSave(next);
    else setDraft(value ?? '');
  };
  return (
    <TextInput
      aria-label={label}
      size="xs"
      variant="filled"
      type={type}
      disabled={disabled}
      value={draft}
      placeholder="—"
      onChange={(e) => setDraft(e.currentTarget.value)}
      onBlur={save}
      onKeyDown={(e) => {
        if (e.key === 'Enter') e.currentTarget.blur();
        if (e.key === 'Escape') setDraft(value ?? '');
      }}
    />
  );
}
