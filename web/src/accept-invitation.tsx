import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { api, messageOf } from './api';
import { useAdoptSession, type SessionView } from './session';

/** /accept-invitation#<token>: create the account (or join with an existing one) and sign in. */
export function AcceptInvitation() {
  const adopt = useAdoptSession();
  const navigate = useNavigate();
  const token = window.location.hash.slice(1);
  const [error, setError] = useState<string | null>(token ? null : 'This link has no invitation in it: ask for a new one.');
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const name = String(form.get('name') ?? '').trim();
      const view = await api.post<SessionView>('/invitations/accept', { token, password: form.get('password'), ...(name ? { name } : {}) });
      navigate('/', { replace: true });
      adopt(view);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Center mih="100vh" p="md" component="main">
      <Paper withBorder shadow="sm" p="xl" w={420} maw="100%">
        <form onSubmit={submit} aria-labelledby="accept-title">
          <Stack>
            <Title order={1} size="h2" id="accept-title">Join your team on Rapport</Title>
            <Text size="sm" c="dimmed">New here? Choose a password (12 characters or more). Already have an account? Enter its password.</Text>
            {error && <Alert color="red" role="alert">{error}</Alert>}
            <TextInput label="Your name" name="name" autoComplete="name" />
            <PasswordInput label="Password" name="password" autoComplete="new-password" required />
            <Button type="submit" loading={busy} disabled={!token}>Accept invitation</Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
