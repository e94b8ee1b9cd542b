// GraphiQL on this server's /graphql. Authenticate in the Headers tab:
// {"Authorization": "Bearer hck_..."}.
(function () {
  var fetcher = GraphiQL.createFetcher({ url: '/graphql' });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultEditorToolsVisibility: 'headers',
    defaultHeaders: '{\n  "Authorization": "Bearer "\n}',
    defaultQuery: '{\n  chantiers(first: 10) {\n    nodes { id code nom statut responsable { nom prenom } }\n    pageInfo { hasNextPage endCursor }\n  }\n}\n'
  }));
})();
