/**
 * Segment's analytics.js snippet, unchanged but for the two edits README.md documents: the script's host
 * is this Rapport, and `analytics._cdn` points here so settings and calls come here too.
 */
export function installSnippet(origin: string, writeKey: string): string {
  const loader = `!function(){var i="analytics",analytics=window[i]=window[i]||[];if(!analytics.initialize)if(analytics.invoked)window.console&&console.error&&console.error("Segment snippet included twice.");else{analytics.invoked=!0;analytics.methods=["trackSubmit","trackClick","trackLink","trackForm","pageview","identify","reset","group","track","ready","alias","debug","page","screen","once","off","on","addSourceMiddleware","addIntegrationMiddleware","setAnonymousId","addDestinationMiddleware","register"];analytics.factory=function(e){return function(){if(window[i].initialized)return window[i][e].apply(window[i],arguments);var n=Array.prototype.slice.call(arguments);if(["track","screen","alias","group","page","identify"].indexOf(e)>-1){var c=document.querySelector("link[rel='canonical']");n.push({__t:"bpc",c:c&&c.getAttribute("href")||void 0,p:location.pathname,u:location.href,s:location.search,t:document.title,r:document.referrer})}n.unshift(e);analytics.push(n);return analytics}};for(var n=0;n<analytics.methods.length;n++){var key=analytics.methods[n];analytics[key]=analytics.factory(key)}analytics.load=function(key,n){var t=document.createElement("script");t.type="text/javascript";t.async=!0;t.setAttribute("data-global-segment-analytics-key",i);t.src="${origin}/analytics.js/v1/" + key + "/analytics.min.js";var r=document.getElementsByTagName("script")[0];r.parentNode.insertBefore(t,r);analytics._loadOptions=n};analytics._writeKey="${writeKey}";;analytics.SNIPPET_VERSION="5.2.0";`;
  return `<script>
  ${loader}
  analytics._cdn = "${origin}";
  analytics.load("${writeKey}");
  analytics.page();
  }}();
</script>`;
}

/** The same source from a server, with curl: a track call authenticated by the write key. */
export function curlExample(origin: string, writeKey: string): string {
  return `curl -u "${writeKey}:" ${origin}/v1/track \\
  -H 'content-type: application/json' \\
  -d '{"userId":"user-1","event":"Signed Up","properties":{"plan":"pro"}}'`;
}
