import { Alert, Anchor, Button, Center, Loader, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, messageOf } from './api';
import { useAdoptSession, type SessionView } from './session';

/** Nobody is signed in: the sign-in form, or the first-run setup while the installation has no owner yet. */
export function Welcome() {
  const setup = useQuery({ queryKey: ['setup'], queryFn: () => api.get<{ needed: boolean }>('/setup'), staleTime: Infinity });
  if (setup.isPending) return <Center h="100vh"><Loader aria-label="Loading" /></Center>;
  return (
    <Center mih="100vh" p="md" component="main">
      <Paper withBorder shadow="sm" p="xl" w={420} maw="100%">
        {setup.data?.needed ? <SetupForm /> : <SignInForm />}
      </Paper>
    </Center>
  );
}

function SignInForm() {
  const adopt = useAdoptSession();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      adopt(await api.post<SessionView>('/auth/login', { email: form.get('email'), password: form.get('password') }));
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="sign-in-title">
      <Stack>
        <Title order={1} size="h2" id="sign-in-title">Sign in to Rapport</Title>
        {error && <Alert color="red" role="alert">{error}</Alert>}
        <TextInput label="Email" name="email" type="email" autoComplete="username" required autoFocus />
        <PasswordInput label="Password" name="password" autoComplete="current-password" required />
        <Button type="submit" loading={busy}>Sign in</Button>
        <Text size="xs" c="dimmed">
          No account? Ask an owner of your workspace for an invitation. <Anchor href="/api/docs" size="xs">API reference</Anchor>
        </Text>
      </Stack>
    </form>
  );
}

function SetupForm() {
  const adopt = useAdoptSession();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    if (form.get('password') !== form.get('confirm')) return setError('The two passwords differ.');
    setBusy(true);
    setError(null);
    try {
      adopt(await api.post<SessionView>('/setup', { workspace: form.get('workspace'), email: form.get('email'), password: form.get('password') }));
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="setup-title">
      <Stack>
        <Title order={1} size="h2" id="setup-title">Set up Rapport</Title>
        <Text size="sm" c="dimmed">
          This installation has no workspace yet. Create the first one and its owner account; everyone else joins by invitation.
        </Text>
        {error && <Alert color="red" role="alert">{error}</Alert>}
        <TextInput label="Workspace name" name="workspace" required autoFocus placeholder="Acme" />
        <TextInput label="Your email" name="email" type="email" autoComplete="username" required />
        <PasswordInput label="Password" name="password" autoComplete="new-password" required minLength={12} description="At least 12 characters, not a common password." />
        <PasswordInput label="Repeat the password" name="confirm" autoComplete="new-password" required />
        <Button type="submit" loading={busy}>Create workspace</Button>
      </Stack>
    </form>
  );
}
